"""Why an article file could not be read or written, and what to do, in each language the page
speaks.

Why one table: the same refusal reaches a person through the CLI and the HTTP API (English) and
through the web page (Indonesian or English). An error carries a key and its fields, never
finished text, so the page can say "sudah ada di korpus" where the API says "already exists";
`tests/test_problems.py` checks that both languages have every message with the same fields.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass, field
from typing import Any

_MOVE = ("Move or copy the article file itself into the corpus folder.",
         "Pindahkan atau salin berkas artikelnya sendiri ke folder korpus.")
_UTF8 = ("Re-save the file as UTF-8.", "Simpan ulang berkas sebagai UTF-8.")

# key -> {language: (reason, hint)}; fields in braces, as str.format takes them.
MESSAGES: dict[str, dict[str, tuple[str, str]]] = {
    "binary": {"en": ("binary file (contains NUL bytes)", "Remove it from the corpus or export it as text."),
               "id": ("berkas biner (berisi byte NUL)", "Keluarkan dari korpus atau ekspor sebagai teks.")},
    "utf16_undecodable": {"en": ("looks like UTF-16 but does not decode (byte {byte})", _UTF8[0]),
                          "id": ("tampak seperti UTF-16 tetapi tidak terbaca (byte {byte})", _UTF8[1])},
    "not_utf8": {"en": ("not valid UTF-8 (byte {byte})", _UTF8[0]),
                 "id": ("bukan UTF-8 yang sah (byte {byte})", _UTF8[1])},
    "line_not_utf8": {"en": ("not valid UTF-8 (byte {byte} of the line)", _UTF8[0]),
                      "id": ("bukan UTF-8 yang sah (byte {byte} pada baris ini)", _UTF8[1])},
    "bad_date": {"en": ("published {value!r} is not an ISO date", "Write it as YYYY-MM-DD, e.g. 2023-07-11."),
                 "id": ("tanggal terbit (published) {value!r} bukan tanggal ISO", "Tulis sebagai TTTT-BB-HH, misalnya 2023-07-11.")},
    "front_matter_open": {"en": ("front matter starts with '---' but never ends", "Close it with a line '---'."),
                          "id": ("front matter diawali '---' tetapi tidak pernah ditutup", "Tutup dengan baris '---'.")},
    "front_matter_yaml": {"en": ("front matter is not valid YAML ({problem})", "Fix the YAML between the '---' lines."),
                          "id": ("front matter bukan YAML yang sah ({problem})", "Perbaiki YAML di antara kedua baris '---'.")},
    "front_matter_fields": {"en": ("front matter is not a mapping of fields", "Write it as 'key: value' lines."),
                            "id": ("front matter bukan daftar kolom", "Tulis sebagai baris 'kunci: nilai'.")},
    "no_text": {"en": ("the article has no text", "Add the article body (or remove the file)."),
                "id": ("artikel tidak berisi teks", "Tambahkan isi artikel (atau hapus berkasnya).")},
    "utf16_jsonl_too_big": {"en": ("UTF-16 JSONL over the {limit} limit", "Re-save it as UTF-8."),
                            "id": ("JSONL UTF-16 melebihi batas {limit}", "Simpan ulang sebagai UTF-8.")},
    "line_too_long": {"en": ("line is over the {limit} limit", "Split the article or raise RAG_MAX_FILE_MB."),
                      "id": ("baris melebihi batas {limit}", "Pecah artikelnya atau naikkan RAG_MAX_FILE_MB.")},
    "bad_json": {"en": ("not valid JSON ({message})", "Fix or remove the line."),
                 "id": ("bukan JSON yang sah ({message})", "Perbaiki atau hapus baris ini.")},
    "field_not_text": {"en": ("'{field}' is a list or a mapping, not text", "Write it as text, e.g. source: Kompas (one outlet)."),
                       "id": ("'{field}' berupa daftar atau pemetaan, bukan teks", "Tulis sebagai teks, misalnya source: Kompas (satu media).")},
    "half_character": {"en": ("half a character ({escape}, as a program that cut a string in the middle of an emoji "
                               "writes it)", "Remove it, or write the whole character."),
                       "id": ("setengah karakter ({escape}, seperti tulisan program yang memotong teks di tengah emoji)",
                              "Hapus, atau tulis karakternya utuh.")},
    "more_bad_lines": {"en": ("{count} more bad lines", "Check that this is a JSONL article file."),
                       "id": ("{count} baris rusak lagi", "Pastikan ini berkas artikel JSONL.")},
    "not_object": {"en": ("the line is not a JSON object", "Write one {{...}} object per line."),
                   "id": ("baris ini bukan objek JSON", "Tulis satu objek {{...}} per baris.")},
    "no_text_field": {"en": ("no 'text' (or 'body') field", "Add the article text as a string."),
                      "id": ("tidak ada kolom 'text' (atau 'body')", "Tambahkan teks artikel sebagai string.")},
    "html_no_text": {"en": ("no article text found in the HTML", "Save the article page itself, not an index page."),
                     "id": ("tidak ada teks artikel di HTML ini", "Simpan halaman artikelnya sendiri, bukan halaman daftar.")},
    "file_too_big": {"en": ("file is {size} MiB, over the {limit} limit", "Split it into articles, or raise RAG_MAX_FILE_MB."),
                     "id": ("berkas {size} MiB, melebihi batas {limit}", "Pecah menjadi beberapa artikel, atau naikkan RAG_MAX_FILE_MB.")},
    "upload_too_big": {"en": ("file is {size} MiB, over the {limit} limit", "Split it into smaller files."),
                       "id": ("berkas {size} MiB, melebihi batas {limit}", "Pecah menjadi berkas yang lebih kecil.")},
    "unreadable": {"en": ("cannot be read ({error})", "Check the file's permissions."),
                   "id": ("tidak dapat dibaca ({error})", "Periksa izin akses berkas.")},
    "folder_unreadable": {"en": ("folder cannot be read ({error}); an update keeps what the index holds from it",
                                 "Check the folder's permissions."),
                          "id": ("folder tidak dapat dibaca ({error}); pembaruan indeks mempertahankan isinya yang sudah ada",
                                 "Periksa izin akses folder.")},
    "name_not_utf8": {"en": ("file name is not valid UTF-8", "Rename the file."),
                      "id": ("nama berkas bukan UTF-8 yang sah", "Ganti nama berkasnya.")},
    "symlink_outside": {"en": ("symlink leads outside the corpus", _MOVE[0]),
                        "id": ("tautan simbolik mengarah ke luar korpus", _MOVE[1])},
    "symlink_folder": {"en": ("symlink to a folder (not followed, so links can never loop)", _MOVE[0]),
                       "id": ("tautan simbolik ke folder (tidak diikuti, agar tautan tidak pernah berputar)", _MOVE[1])},
    "symlink_broken": {"en": ("symlink does not lead to a file (broken or a loop)", _MOVE[0]),
                       "id": ("tautan simbolik tidak mengarah ke berkas (putus atau berputar)", _MOVE[1])},
    "too_deep": {"en": ("folder nested deeper than {depth} levels", "Move its articles nearer the corpus folder."),
                 "id": ("folder bersarang lebih dari {depth} tingkat", "Pindahkan artikelnya lebih dekat ke folder korpus.")},
    "not_regular": {"en": ("not a regular file (a pipe, socket or device)", "Remove it from the corpus."),
                    "id": ("bukan berkas biasa (pipa, soket, atau perangkat)", "Keluarkan dari korpus.")},
    "duplicate_id": {"en": ("duplicate article id {id!r} (already used by {other})", "Give each article a unique 'id'."),
                     "id": ("id artikel {id!r} ganda (sudah dipakai oleh {other})", "Beri setiap artikel 'id' yang unik.")},
    "unsupported": {"en": ("file name {name!r} is not a supported article file", "Use one of {suffixes}."),
                    "id": ("berkas {name!r} bukan jenis berkas artikel yang didukung", "Gunakan salah satu dari {suffixes}.")},
    "name_outside": {"en": ("file name {name!r} leads outside the corpus", "Upload a plain file name."),
                     "id": ("nama berkas {name!r} mengarah ke luar korpus", "Unggah dengan nama berkas biasa.")},
    "exists": {"en": ("{name} already exists in the corpus", "Rename the file, or replace it (the page's 'Replace' box; replace=true in the API)."),
               "id": ("{name} sudah ada di korpus", "Ganti nama berkasnya, atau timpa berkas lama (kotak «Timpa» di halaman; replace=true di API).")},
    "utf16_file": {"en": ("{path} is a UTF-16 file: its lines cannot be changed one by one", "Change it by hand, or save it as UTF-8."),
                   "id": ("{path} adalah berkas UTF-16: barisnya tidak dapat diubah satu per satu",
                          "Ubah secara manual, atau simpan sebagai UTF-8.")},
    "record_moved": {"en": ("{id!r} is no longer on its line of {path}: the file changed since the index was last updated",
                            "Update the index, then try again."),
                     "id": ("{id!r} tidak lagi berada di barisnya dalam {path}: berkas itu berubah sejak indeks terakhir diperbarui",
                            "Perbarui indeks, lalu coba lagi.")},
    "write_failed": {"en": ("the corpus could not be changed ({error})",
                             "Check that the corpus folder is writable and its disk has space, then try again; it was left as it was."),
                      "id": ("korpus tidak dapat diubah ({error})",
                             "Pastikan folder korpus dapat ditulisi dan disknya masih berisi ruang, lalu coba lagi; korpus dibiarkan seperti semula.")},
    "edit_document": {"en": ("{path} is a {kind} document: its title, outlet and date are the document's own",
                             "Edit the document itself, or save the article as .md and edit that."),
                      "id": ("{path} adalah dokumen {kind}: judul, sumber, dan tanggalnya milik dokumen itu sendiri",
                             "Sunting dokumennya, atau simpan artikel sebagai .md lalu sunting itu.")},
    "edit_front_matter": {"en": ("the front matter's {key} is not one plain line", "Edit the file by hand."),
                          "id": ("{key} di front matter bukan satu baris biasa", "Sunting berkas itu secara manual.")},
    "field_too_long": {"en": ("{field} is {length} characters, over the {limit} limit", "Shorten it to the limit."),
                       "id": ("{field} {length} karakter, melebihi batas {limit}", "Persingkat sampai batas itu.")},
    "edit_no_title": {"en": ("an article keeps a title", "Give it a title."),
                      "id": ("artikel harus tetap berjudul", "Beri judul.")},
    "edit_text_changed": {"en": ("editing {path}'s fields would change its text", "Edit the file by hand."),
                          "id": ("menyunting kolom {path} akan mengubah teksnya", "Sunting berkas itu secara manual.")},
    "delete_outside": {"en": ("{path} lies outside the corpus", "Remove it by hand."),
                       "id": ("{path} berada di luar korpus", "Hapus secara manual.")},
    "pdf_password": {"en": ("the PDF is password-protected", "Save an unprotected copy."),
                     "id": ("PDF ini dilindungi kata sandi", "Simpan salinan tanpa kata sandi.")},
    "pdf_unreadable": {"en": ("not a readable PDF ({error})", "Open it in a PDF viewer and save it again."),
                       "id": ("PDF tidak terbaca ({error})", "Buka di penampil PDF lalu simpan ulang.")},
    "pdf_no_text": {"en": ("no text layer in {pages} page(s); OCR is not supported",
                           "Export the document from its source with text, or run OCR on it first."),
                    "id": ("tidak ada lapisan teks di {pages} halaman; OCR tidak didukung",
                           "Ekspor ulang dokumen dari sumbernya beserta teksnya, atau jalankan OCR terlebih dahulu.")},
    "docx_unreadable": {"en": ("not a readable Word document ({error})", "Open it in Word and save it as .docx again."),
                        "id": ("dokumen Word tidak terbaca ({error})", "Buka di Word lalu simpan ulang sebagai .docx.")},
    "no_free_name": {"en": ("no free file name for {stem}", "Tidy up the folder."),
                     "id": ("tidak ada nama berkas yang bebas untuk {stem}", "Rapikan foldernya.")},
}


def printable(name: str) -> str:
    """A file name safe to print on one line: control characters and undecodable bytes escaped."""
    name = name.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(repr(c)[1:-1] if unicodedata.category(c) == "Cc" else c for c in name)


def message(key: str, fields: dict[str, Any], language: str = "en") -> tuple[str, str]:
    """(reason, hint) of message `key` with its `fields`, in `language` ('en' or 'id').

    Example::

        message("exists", {"name": "a.md"}, "id")   # ('a.md sudah ada di korpus', 'Ganti nama berkasnya, ...')
    """
    reason, hint = MESSAGES[key][language]
    return reason.format(**fields), hint.format(**fields)


def fields_of(key: str) -> dict[str, set[str]]:
    """The field names each language's message `key` uses (they must agree)."""
    return {language: {name for text in texts for _, name, _, _ in string.Formatter().parse(text) if name}
            for language, texts in MESSAGES[key].items()}


class ArticleError(ValueError):
    """Raised while reading or writing one article file (or one line of it); becomes a `Problem`.

    Args:
        key: which message of `MESSAGES`.
        line: the line it concerns, when one does.
        **fields: the message's fields.

    Example::

        error = ArticleError("exists", name="a.md")
        str(error), error.hint, error.text("id")[0]   # ('a.md already exists in the corpus', 'Rename ...', 'a.md sudah ada di korpus')
    """

    def __init__(self, key: str, line: int | None = None, **fields: Any):
        self.key, self.line, self.fields = key, line, fields
        self.reason, self.hint = message(key, fields)
        super().__init__(self.reason)

    def text(self, language: str) -> tuple[str, str]:
        """(reason, hint) in `language`."""
        return message(self.key, self.fields, language)


@dataclass(frozen=True)
class Problem:
    """A file (or one line of it) that could not be read, and what the user can do about it.

    Example::

        Problem("a.jsonl", "bad_json", {"message": "Expecting value"}, 3).text("id")
        # 'a.jsonl:3: bukan JSON yang sah (Expecting value). Perbaiki atau hapus baris ini.'
    """

    path: str
    key: str
    fields: dict[str, Any] = field(default_factory=dict)
    line: int | None = None

    @classmethod
    def of(cls, path: str, error: ArticleError, line: int | None = None) -> Problem:
        """The problem `error` raised while reading `path` (at `line` when the error names none)."""
        return cls(path, error.key, error.fields, error.line or line)

    def error(self) -> ArticleError:
        """The problem as the `ArticleError` a write raises (the reverse of `of`)."""
        return ArticleError(self.key, self.line, **self.fields)

    @property
    def reason(self) -> str:
        return message(self.key, self.fields)[0]

    @property
    def hint(self) -> str:
        return message(self.key, self.fields)[1]

    def text(self, language: str = "en") -> str:
        """"path:line: reason. hint" in `language`."""
        reason, hint = message(self.key, self.fields, language)
        where = printable(f"{self.path}:{self.line}" if self.line else self.path)
        return f"{where}: {reason}. {hint}"

    def __str__(self) -> str:
        return self.text()
