"""Every string the web page shows, one table per language (Indonesian first, English second).

Why one table per language: a page that switches to English but keeps "Sumber" in a heading,
or speaks English in the Indonesian Index tab, looks broken; with every label, count, status and
error here, `tests/test_ui_browser.py` walks the page in each language and looks for any string of
the other table. Strings the library itself writes (the answer's frame, "no answer") follow the
question's language and live in `rag.answer`.
"""

from __future__ import annotations

import datetime as dt

LANGUAGES = {"Bahasa Indonesia": "id", "English": "en"}

# The example questions under the question box, in both languages: each is answered from the seed
# article a fresh clone's corpus holds (tests/test_answer.py).
EXAMPLES = [
    "Apa yang dikatakan Lavrov tentang perluasan NATO?",
    "Siapa juru bicara Kremlin?",
    "What did Zelenskyy say before the NATO summit?",
    "Where did the NATO leaders meet?",
]

# The tooltips of Gradio's own buttons, English -> Indonesian (Gradio's Indonesian lacks some).
GRADIO_TOOLTIPS = {
    "Clear": "Bersihkan obrolan", "Copy message": "Salin pesan", "Copied message": "Pesan disalin",
    "Copy conversation": "Salin percakapan", "Edit": "Sunting", "Submit": "Kirim", "Cancel": "Batal",
    "Copy table data": "Salin data tabel", "Fullscreen": "Layar penuh",
    "Exit fullscreen": "Keluar dari layar penuh", "Exit fullscreen mode": "Keluar dari layar penuh",
}

LABELS: dict[str, dict[str, str]] = {
    "id": {
        "title": "# Arsip Berita\nTanyakan apa saja tentang arsip berita; setiap jawaban menunjuk kalimat sumbernya.",
        "language": "Bahasa antarmuka", "chat_tab": "Tanya", "index_tab": "Indeks", "chat": "Percakapan",
        "question": "Pertanyaan", "placeholder": "Misalnya: Apa yang dikatakan Lavrov tentang perluasan NATO?",
        "conversations": "Percakapan Anda", "new_conversation": "+ Percakapan baru",
        "empty_conversation": "Percakapan baru (belum ada pertanyaan)",
        "send": "Kirim", "retry": "Ulangi", "undo": "Batalkan", "download": "Unduh", "examples": "Contoh pertanyaan", "follow_ups": "Tanyakan juga:",
        "filters": "Filter", "since": "Sejak (TTTT-BB-HH)", "until": "Sampai (TTTT-BB-HH)", "sources": "Sumber berita",
        "active_filters": "Filter aktif (klik untuk melepas)", "since_chip": "sejak", "until_chip": "sampai",
        "period": "Rentang waktu", "all_time": "Semua", "last_7": "7 hari terakhir", "last_30": "30 hari terakhir",
        "last_365": "Setahun terakhir",
        "bad_date": "Tanggal «{value}» tidak dikenali: tulis TTTT-BB-HH, misalnya 2023-07-11.",
        "reversed_dates": "Periode berakhir ({until}) sebelum dimulai ({since}): tukar kedua tanggal.",
        "server_error": "⚠ Maaf, server gagal menjawab pertanyaan ini (rinciannya ada di log server). Coba kirim ulang: pertanyaan Anda kembali ke kotak, kecuali Anda sudah mengetik yang lain di sana.",
        "k": "Jumlah artikel yang dicari", "mode": "Mode jawaban", "extractive": "Ekstraktif (kutipan)",
        "no_sources": "Sumber setiap jawaban muncul di sini, dengan kalimat yang dikutip disorot.",
        "sources_of": "Sumber jawaban {n}", "related_of": "Artikel terkait untuk pertanyaan {n}",
        "no_related": "Tidak ada artikel yang cocok dengan pertanyaan dan filter ini.",
        "article_unavailable": "Artikel ini tidak dapat dimuat (mungkin sudah dihapus dari arsip).",
        "open_article": "Buka artikel lengkap", "copy_quote": "Salin kutipan", "copied": "Tersalin",
        "kept_title": "Arsip Berita: percakapan", "kept_confidence": "keyakinan", "kept_chars": "karakter", "kept_file": "arsip-berita",
        "confident": "yakin", "unsure": "kurang yakin",
        "token": "Token akses (RAG_API_TOKEN)",
        "writes_enabled": "Unggah, hapus, dan perbarui indeks memerlukan token akses server.",
        "writes_disabled": "Halaman ini hanya-baca: jalankan server dengan RAG_API_TOKEN=<rahasia> untuk mengaktifkan unggah, hapus, dan pembaruan indeks.",
        "upload": "Unggah artikel (.md, .txt, .jsonl, .html, .pdf, .docx)", "page": "hlm. {n}", "also_in": "Juga dimuat di", "update": "Perbarui indeks",
        "replace": "Timpa berkas bernama sama (artikel yang dikoreksi)",
        "search_tab": "Cari", "search_query": "Kata atau pertanyaan",
        "search_placeholder": "Misalnya: banjir Demak, atau: Siapa juru bicara Kremlin?", "search_go": "Cari",
        "search_k": "Jumlah artikel", "search_download": "Unduh daftar (CSV)", "search_file": "cari", "search_prompt": "Ketik kata atau pertanyaan, lalu tekan Enter atau Cari.",
        "search_only_excluded": "Kueri hanya menyebut yang dikecualikan (tanda minus): tambahkan kata yang dicari.",
        "search_excluded_in_phrase": "Frasa «{phrase}» memuat «{excluded}», yang dikecualikan dengan tanda minus: tidak ada artikel yang bisa memuat keduanya. Hapus minusnya atau frasanya.",
        "search_found_relevance": "{articles} untuk «{query}», yang paling cocok lebih dulu.",
        "search_found_newest": "{articles} untuk «{query}», yang terbaru lebih dulu.",
        "search_found_oldest": "{articles} untuk «{query}», yang terlama lebih dulu.",
        "search_words_held": "{count} dari {total} memuat setiap katanya; yang lain terdekat maknanya.",
        "search_holding": "Artikel yang memuat {phrases}: {count}.", "search_lacking": "Artikel tanpa {excluded}: {count}.",
        "search_holding_lacking": "Artikel yang memuat {phrases} tanpa {excluded}: {count}.",
        "search_years": "Per tahun: {years}.", "search_undated": "tanpa tanggal",
        "search_syntax": 'Frasa persis dalam tanda kutip: "banjir rob" hanya mencari artikel yang memuatnya; -rob menyisihkan yang memuat "rob".',
        "search_order": "Urutan", "search_order_relevance": "Paling cocok", "search_order_newest": "Terbaru",
        "search_order_oldest": "Terlama",
        "search_empty_index": "Indeks belum berisi artikel: tambahkan artikel di tab Indeks.",
        "search_articles": "Cari artikel",
        "listed_part": "Menampilkan {shown} dari {articles}; cari untuk mempersempit",
        "previous_page": "‹ Sebelumnya",
        "next_page": "Berikutnya ›",
        "column_title": "Judul", "column_source": "Sumber", "column_published": "Tanggal", "column_id": "ID",
        "delete_id": "Artikel terpilih (pilih baris di tabel atau ketik ID-nya)", "delete": "Hapus artikel",
        "edit_fields": "Sunting judul, sumber, tanggal", "edit_title": "Judul", "edit_source": "Sumber berita",
        "edit_published": "Tanggal terbit (TTTT-BB-HH)", "edit_url": "Alamat (URL)", "edit_save": "Simpan perubahan",
        "edit_nothing": "Belum ada yang diubah: ubah judul, sumber, tanggal, atau alamatnya dulu.",
        "edited_status": "Diubah", "edited": "disimpan di berkasnya; perbarui indeks agar pencarian dan filter memakainya",
        "delete_pick": "Pilih dulu baris artikel di tabel (atau ketik ID-nya).",
        "confirm_delete": "Hapus «{title}» ({id}) dari korpus?", "confirm": "Ya, hapus", "cancel": "Batal",
        "saved_status": "Tersimpan", "refused_status": "Ditolak", "deleted_status": "Dihapus", "failed_status": "Gagal",
        "wrong_token": "token salah atau kosong: isi token akses server",
        "not_found": "tidak ada di korpus", "already_deleted": "sudah dihapus dari korpus; perbarui indeks untuk mengeluarkannya",
        "saved": "{articles} disimpan; perbarui indeks agar dapat dicari",
        "deleted": "dihapus dari korpus; perbarui indeks untuk mengeluarkannya",
        "stats": "{articles} · {chunks} · model `{model}` · generasi `{generation}` · dibangun {built}",
        "updating": "menyematkan potongan teks",
        "update_done": "Selesai dalam {seconds:.1f} dtk: {added}, {updated} diubah, {removed} dihapus, "
                       "{unchanged} tetap, {failed} gagal; {embedded} disematkan, {reused} dari cache.",
        "index_unchanged": "Indeks tidak berubah.", "problem": "Masalah",
        "auto_on": "**Pembaruan otomatis**: {what}.", "auto_watch": "folder korpus diawasi",
        "auto_fetch": "sumber berita diambil berkala", "auto_none": "Belum ada pembaruan otomatis.",
        "auto_last": "Terakhir pukul {time} ({trigger}):", "auto_running": "sedang berjalan…",
        "trigger_watch": "folder korpus berubah", "trigger_fetch": "artikel baru dari sumber",
    },
    "en": {
        "title": "# News Archive\nAsk anything about the news archive; every answer points to its source sentence.",
        "language": "Interface language", "chat_tab": "Ask", "index_tab": "Index", "chat": "Conversation",
        "question": "Question", "placeholder": "For example: What did Lavrov say about NATO expansion?",
        "conversations": "Your conversations", "new_conversation": "+ New conversation",
        "empty_conversation": "New conversation (no question yet)",
        "send": "Send", "retry": "Retry", "undo": "Undo", "download": "Download", "examples": "Example questions", "follow_ups": "Ask next:",
        "filters": "Filters", "since": "Since (YYYY-MM-DD)", "until": "Until (YYYY-MM-DD)", "sources": "News outlets",
        "active_filters": "Active filters (click to remove)", "since_chip": "since", "until_chip": "until",
        "period": "Period", "all_time": "All", "last_7": "Last 7 days", "last_30": "Last 30 days",
        "last_365": "Last year",
        "bad_date": "Date «{value}» not understood: write YYYY-MM-DD, for example 2023-07-11.",
        "reversed_dates": "The period ends ({until}) before it starts ({since}): swap the two dates.",
        "server_error": "⚠ Sorry, the server failed to answer this question (the details are in the server log). Try sending it again: your question is back in the box, unless you have typed another there.",
        "k": "Articles retrieved", "mode": "Answer mode", "extractive": "Extractive (quotes)",
        "no_sources": "The sources of every answer appear here, the quoted sentence highlighted.",
        "sources_of": "Sources of answer {n}", "related_of": "Related articles for question {n}",
        "no_related": "No article matches this question and these filters.",
        "article_unavailable": "This article could not be loaded (it may have been deleted from the archive).",
        "open_article": "Open the full article", "copy_quote": "Copy quote", "copied": "Copied",
        "kept_title": "News Archive: conversation", "kept_confidence": "confidence", "kept_chars": "chars", "kept_file": "news-archive",
        "confident": "confident", "unsure": "less sure",
        "token": "Access token (RAG_API_TOKEN)",
        "writes_enabled": "Uploading, deleting and updating the index need the server's access token.",
        "writes_disabled": "This page is read-only: start the server with RAG_API_TOKEN=<secret> to enable uploads, deletes and index updates.",
        "upload": "Upload articles (.md, .txt, .jsonl, .html, .pdf, .docx)", "page": "p. {n}", "also_in": "Also published in", "update": "Update index",
        "replace": "Replace a file of the same name (a corrected article)",
        "search_tab": "Search", "search_query": "Words or a question",
        "search_placeholder": "For example: Demak flood, or: Who is the Kremlin spokesman?", "search_go": "Search",
        "search_k": "Articles shown", "search_download": "Download list (CSV)", "search_file": "search", "search_prompt": "Type words or a question, then press Enter or Search.",
        "search_only_excluded": "The query only names what to leave out (with a minus): add words to search for.",
        "search_excluded_in_phrase": "The phrase «{phrase}» holds «{excluded}», which the minus leaves out: no article can hold both. Drop the minus or the phrase.",
        "search_found_relevance": "{articles} for «{query}», best match first.",
        "search_found_newest": "{articles} for «{query}», newest first.",
        "search_found_oldest": "{articles} for «{query}», oldest first.",
        "search_words_held": "{count} of {total} hold every word of it; the others are closest in meaning.",
        "search_holding": "Articles holding {phrases}: {count}.", "search_lacking": "Articles without {excluded}: {count}.",
        "search_holding_lacking": "Articles holding {phrases} without {excluded}: {count}.",
        "search_years": "By year: {years}.", "search_undated": "undated",
        "search_syntax": 'An exact phrase in quotes: "banjir rob" finds only the articles that hold it; -rob leaves out those holding "rob".',
        "search_order": "Order", "search_order_relevance": "Best match", "search_order_newest": "Newest",
        "search_order_oldest": "Oldest",
        "search_empty_index": "The index holds no article yet: add articles in the Index tab.",
        "search_articles": "Search articles",
        "listed_part": "Showing {shown} of {articles}; search to narrow them",
        "previous_page": "‹ Previous",
        "next_page": "Next ›",
        "column_title": "Title", "column_source": "Outlet", "column_published": "Date", "column_id": "Id",
        "delete_id": "Article picked (pick a row in the table or type its id)", "delete": "Delete article",
        "edit_fields": "Edit title, outlet, date", "edit_title": "Title", "edit_source": "News outlet",
        "edit_published": "Published (YYYY-MM-DD)", "edit_url": "Address (URL)", "edit_save": "Save changes",
        "edit_nothing": "Nothing changed yet: change the title, outlet, date or address first.",
        "edited_status": "Changed", "edited": "saved in its file; update the index for search and filters to use it",
        "delete_pick": "First pick the article's row in the table (or type its id).",
        "confirm_delete": "Delete «{title}» ({id}) from the corpus?", "confirm": "Yes, delete", "cancel": "Cancel",
        "saved_status": "Saved", "refused_status": "Refused", "deleted_status": "Deleted", "failed_status": "Failed",
        "wrong_token": "missing or wrong token: enter the server's access token",
        "not_found": "not in the corpus", "already_deleted": "already deleted from the corpus; update the index to drop it",
        "saved": "{articles} saved; update the index to make them searchable",
        "deleted": "removed from the corpus; update the index to drop it",
        "stats": "{articles} · {chunks} · model `{model}` · generation `{generation}` · built {built}",
        "updating": "embedding text chunks",
        "update_done": "Done in {seconds:.1f} s: {added}, {updated} changed, {removed} removed, "
                       "{unchanged} unchanged, {failed} failed; {embedded} embedded, {reused} from the cache.",
        "index_unchanged": "The index did not change.", "problem": "Problem",
        "auto_on": "**Automatic updates**: {what}.", "auto_watch": "the corpus folder is watched",
        "auto_fetch": "the news sources are fetched on a schedule", "auto_none": "No automatic update yet.",
        "auto_last": "Last at {time} ({trigger}):", "auto_running": "running…",
        "trigger_watch": "the corpus folder changed", "trigger_fetch": "new articles from the sources",
    },
}

# Counted nouns, (one, many): Indonesian does not change the noun, English does.
NOUNS: dict[str, dict[str, tuple[str, str]]] = {
    "id": {"article": ("artikel", "artikel"), "new article": ("artikel baru", "artikel baru"),
           "chunk": ("potongan teks", "potongan teks")},
    "en": {"article": ("article", "articles"), "new article": ("new article", "new articles"),
           "chunk": ("text chunk", "text chunks")},
}


def counted(count: int, noun: str, language: str, bold: bool = False) -> str:
    """`count` and `noun` (a key of `NOUNS`) as the page's language writes them.

    Example::

        counted(1, "article", "en"), counted(2, "article", "en"), counted(2, "chunk", "id", bold=True)
        # ('1 article', '2 articles', '**2** potongan teks')
    """
    one, many = NOUNS[language][noun]
    shown = f"**{number(count, language)}**" if bold else number(count, language)
    return f"{shown} {one if count == 1 else many}"


def number(count: int, language: str) -> str:
    """A whole number with its thousands marked as the page's language marks them: "4.140" in
    Indonesian (where "4,140" reads as four and a bit), "4,140" in English."""
    return f"{count:,}".replace(",", ".") if language == "id" else f"{count:,}"


def format_moment(iso: str | None, language: str) -> str:
    """An ISO timestamp (`Manifest.built_at`) as `format_date` writes its day, with the time in UTC.

    Example::

        format_moment("2026-12-05T21:14:25+00:00", "id")   # '5 Desember 2026 21:14 UTC'
    """
    try:
        moment = dt.datetime.fromisoformat(iso or "").astimezone(dt.timezone.utc)
    except ValueError:
        return iso or ""
    return f"{format_date(moment.date().isoformat(), language)} {moment:%H:%M} UTC"


MONTHS = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
           "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}


def format_date(iso: str | None, language: str) -> str:
    """A YYYY-MM-DD date the way the page's language writes it; anything else unchanged.

    Example::

        format_date("2023-07-11", "id")   # '11 Juli 2023'
        format_date("2023-07-11", "en")   # '11 July 2023'
    """
    if not iso:
        return ""
    try:
        day = dt.date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    return f"{day.day} {MONTHS[language][day.month - 1]} {day.year}"
