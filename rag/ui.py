"""The Gradio web app: a chat with cited answers, a sources panel that shows each cited sentence
in its article, filters, and an index tab. A thin shell over `rag.answer.Assistant` (answers)
and `rag.articles.Archive` (listing and the token-checked writes).

Every piece of article data is escaped before it reaches the page: titles, text and URLs
are shown as text, never as live HTML, and only http(s) links are made clickable.
"""

from __future__ import annotations

import datetime as dt
import html
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from rag.answer import FRAME, MAX_QUESTION_CHARS, Answer, Assistant
from rag.articles import Archive, ArticleNotFound, WriteRefused
from rag.corpus import Article, ArticleError
from rag.retriever import Filters

LABELS = {
    "id": {
        "title": "# Arsip Berita\nTanyakan apa saja tentang arsip berita; setiap jawaban menunjuk kalimat sumbernya.",
        "chat_tab": "Tanya", "index_tab": "Indeks", "question": "Pertanyaan",
        "placeholder": "Misalnya: Apa yang dikatakan Lavrov tentang perluasan NATO?",
        "send": "Kirim", "retry": "Ulangi", "undo": "Batalkan", "clear": "Hapus percakapan",
        "filters": "Filter", "since": "Sejak (YYYY-MM-DD)", "until": "Sampai (YYYY-MM-DD)", "sources": "Sumber",
        "k": "Jumlah artikel yang dicari", "mode": "Mode jawaban", "extractive": "Ekstraktif (kutipan)",
        "sources_heading": "Sumber", "no_sources": "Sumber jawaban terakhir muncul di sini.",
        "open_article": "Buka artikel lengkap", "upload": "Unggah artikel (.md, .txt, .jsonl, .html)",
        "update": "Perbarui indeks", "search_articles": "Cari artikel", "delete_id": "ID artikel yang dihapus",
        "delete": "Hapus artikel", "language": "Bahasa antarmuka", "examples": "Contoh pertanyaan",
        "bad_date": "Tanggal harus berformat YYYY-MM-DD", "chat": "Percakapan",
        "token": "Token akses (RAG_API_TOKEN)",
        "writes_enabled": "Unggah, hapus, dan perbarui indeks memerlukan token akses server.",
        "writes_disabled": "Halaman ini hanya-baca: jalankan server dengan RAG_API_TOKEN=<rahasia> untuk mengaktifkan unggah, hapus, dan pembaruan indeks.",
        "wrong_token": "token salah atau kosong: isi token akses server",
        "not_found": "tidak ada di indeks", "saved": "{count} artikel disimpan; perbarui indeks agar dapat dicari",
        "deleted": "dihapus dari korpus; perbarui indeks untuk mengeluarkannya",
    },
    "en": {
        "title": "# News Archive\nAsk anything about the news archive; every answer points to its source sentence.",
        "chat_tab": "Ask", "index_tab": "Index", "question": "Question",
        "placeholder": "For example: What did Lavrov say about NATO expansion?",
        "send": "Send", "retry": "Retry", "undo": "Undo", "clear": "Clear chat",
        "filters": "Filters", "since": "Since (YYYY-MM-DD)", "until": "Until (YYYY-MM-DD)", "sources": "Sources",
        "k": "Articles retrieved", "mode": "Answer mode", "extractive": "Extractive (quotes)",
        "sources_heading": "Sources", "no_sources": "The sources of the latest answer appear here.",
        "open_article": "Open the full article", "upload": "Upload articles (.md, .txt, .jsonl, .html)",
        "update": "Update index", "search_articles": "Search articles", "delete_id": "Article id to delete",
        "delete": "Delete article", "language": "Interface language", "examples": "Example questions",
        "bad_date": "Dates must be written YYYY-MM-DD", "chat": "Conversation",
        "token": "Access token (RAG_API_TOKEN)",
        "writes_enabled": "Uploading, deleting and updating the index need the server's access token.",
        "writes_disabled": "This page is read-only: start the server with RAG_API_TOKEN=<secret> to enable uploads, deletes and index updates.",
        "wrong_token": "missing or wrong token: enter the server's access token",
        "not_found": "not in the index", "saved": "{count} article(s) saved; update the index to make them searchable",
        "deleted": "removed from the corpus; update the index to drop it",
    },
}
LANGUAGES = {"Bahasa Indonesia": "id", "English": "en"}
EXAMPLES = [
    "Apa yang dikatakan Lavrov tentang perluasan NATO?",
    "Siapa juru bicara Kremlin?",
    "What did Zelenskyy say before the NATO summit?",
    "Who is the Russian ambassador to the United States?",
]

CSS = """
.source-card {border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 12px; margin-bottom: 8px;}
.source-card h4 {margin: 0 0 4px 0;}
.source-card mark, .article-view mark {background: #ffe58a; color: inherit; padding: 0 2px;}
.article-view {white-space: pre-wrap; max-height: 420px; overflow-y: auto; border-left: 3px solid #f0b400; padding-left: 10px;}
mark.focused {outline: 2px solid #d48806;}
#chat a[href^="#cite-"], .source-card a[href^="#cite-"] {color: var(--link-text-color, #2563eb); font-weight: 600; text-decoration: underline;}
"""

# Clicking a citation [n] (in the chat or on a card) opens article n and scrolls to the cited sentence.
HEAD = """
<script>
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href^='#cite-']");
  if (!link) return;
  event.preventDefault();
  const n = link.getAttribute("href").slice(6);
  const details = document.getElementById("article-" + n);
  if (!details) return;
  details.open = true;
  document.querySelectorAll("mark.focused").forEach((m) => m.classList.remove("focused"));
  const mark = document.getElementById("cite-" + n);
  if (mark) { mark.classList.add("focused"); mark.scrollIntoView({block: "center"}); }
});
</script>
"""


def _meta(source: str | None, published: str | None, url: str | None) -> str:
    parts = [html.escape(x) for x in (source, published) if x]
    if url and url.startswith(("http://", "https://")):
        parts.append(f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">{html.escape(url)}</a>')
    return " · ".join(parts)


def _highlight(text: str, spans: list[tuple[int, int]], offset: int, n: int) -> str:
    """Escape `text` and wrap the cited spans (article offsets) in <mark>; the first gets the anchor id."""
    pieces, cursor = [], 0
    for index, (start, end) in enumerate(sorted(spans)):
        start, end = start - offset, end - offset
        if start < cursor or start < 0 or end > len(text):
            continue
        anchor = f' id="cite-{n}"' if index == 0 else ""
        pieces += [html.escape(text[cursor:start]), f"<mark{anchor}>", html.escape(text[start:end]), "</mark>"]
        cursor = end
    pieces.append(html.escape(text[cursor:]))
    return "".join(pieces)


def render_sources(answer: Answer | None, article_of: Callable[[str], Article | None], language: str,
                   turn: int = 0, answer_id: str = "") -> str:
    """One card per source (passage with the cited sentence highlighted) and its full article, collapsed.

    `article_of` looks an article up by id (the live index's `IndexStore.article`); `turn`
    numbers the answer in the conversation and `answer_id` tells answers apart (a retried one
    too): both are set once the answer is complete (`data-turn`, `data-answer`).
    """
    labels = LABELS[language]
    wrapper = f'<div data-turn="{turn}" data-answer="{html.escape(answer_id, quote=True)}">'
    if answer is None or not answer.sources:
        return f'{wrapper}<p>{labels["no_sources"]}</p></div>'
    cards = [wrapper, f"<h3>{labels['sources_heading']}</h3>"]
    for source in answer.sources:
        spans = [(c.start, c.end) for c in answer.citations if c.n == source.n]
        article = article_of(source.article_id)
        full = _highlight(article.text, spans, 0, source.n) if article else ""
        passage = _highlight(source.passage, spans, source.passage_start, source.n).replace(f' id="cite-{source.n}"', "")
        cards.append(
            f'<div class="source-card" id="source-{source.n}"><h4>[{source.n}] {html.escape(source.title)}</h4>'
            f"<small>{_meta(source.source, source.published, source.url)}</small>"
            f"<p>{passage}</p>"
            f'<p><a href="#cite-{source.n}">{labels["open_article"]} [{source.n}]</a></p>'
            f'<details id="article-{source.n}"><summary>{html.escape(source.title)}</summary>'
            f'<div class="article-view">{full}</div></details></div>'
        )
    return "\n".join(cards + ["</div>"])


CONFIDENCE = {"id": ("yakin", "kurang yakin"), "en": ("confident", "less sure")}


def render_reply(answer: Answer) -> str:
    """The reply as chat markdown: escaped text with the short answer in bold and a plain
    confidence label, each [n] a link to its source."""
    text = html.escape(answer.text, quote=False)
    if answer.short_answer and answer.confidence is not None:
        lead = html.escape(f"{FRAME[answer.language]} {answer.short_answer}", quote=False)
        if text.startswith(lead):  # the frame, then the short answer: bold it there, and only there
            sure, unsure = CONFIDENCE.get(answer.language, CONFIDENCE["en"])
            label = sure if answer.confidence >= 0.5 else unsure  # a calibrated probability
            frame = html.escape(FRAME[answer.language], quote=False)
            text = f"{frame} **{text[len(frame) + 1 : len(lead)]}** _({label})_" + text[len(lead):]
    for n in sorted({c.n for c in answer.citations}, reverse=True):
        text = text.replace(f"[{n}]", f'<a href="#cite-{n}">[{n}]</a>')
    if answer.notice:
        text += f"\n\n_{html.escape(answer.notice)}_"
    return text.replace("\n", "  \n")


def parse_filters(since: str, until: str, sources: list[str] | None, language: str) -> Filters:
    try:
        first = dt.date.fromisoformat(since.strip()) if since and since.strip() else None
        last = dt.date.fromisoformat(until.strip()) if until and until.strip() else None
    except ValueError:
        raise gr.Error(LABELS[language]["bad_date"]) from None
    return Filters(first, last, tuple(sources or ()))


def message_text(content: object) -> str:
    """The plain text of one Gradio chat message's content: a string, one part
    (`{"type": "text", "text": ...}`) or a list of parts, as Gradio 6 hands history back."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if isinstance(content, list):
        return "".join(message_text(part) for part in content)
    return ""


def as_history(messages: list[dict]) -> list[dict[str, str]]:
    """Gradio's chat messages as the library's history: `{"role", "content": str}` turns. The one
    conversion used by send, Retry and Undo.

    Example::

        as_history([{"role": "user", "content": [{"type": "text", "text": "Siapa?"}]}])
        # [{"role": "user", "content": "Siapa?"}]
    """
    return [{"role": message["role"], "content": message_text(message.get("content"))} for message in messages or []]


def index_stats(assistant: Assistant) -> str:
    manifest = assistant.retriever.refresh().manifest
    return (f"**{manifest.articles}** articles · **{manifest.chunks}** chunks · model `{manifest.model_id}` · "
            f"generation `{manifest.generation}` · built {manifest.built_at}")


@dataclass
class ChatTab:
    """The chat tab's components."""

    chatbot: gr.Chatbot
    question: gr.Textbox
    send: gr.Button
    retry: gr.Button
    undo: gr.Button
    clear: gr.Button
    since: gr.Textbox
    until: gr.Textbox
    sources: gr.Dropdown
    k: gr.Slider
    mode: gr.Radio
    sources_panel: gr.HTML


@dataclass
class IndexTab:
    """The index tab's components."""

    stats: gr.Markdown
    access: gr.Markdown
    token: gr.Textbox
    files: gr.File
    upload_report: gr.Markdown
    update: gr.Button
    update_report: gr.Markdown
    article_query: gr.Textbox
    articles: gr.Dataframe
    delete_id: gr.Textbox
    delete: gr.Button
    delete_report: gr.Markdown


def build_ui(assistant: Assistant, archive: Archive) -> gr.Blocks:
    """The whole page: a chat tab and an index tab. Events with an api_name are callable through
    gradio_client; the write events (upload, delete, update) take the token and are refused without it.

    Example::

        page = build_ui(assistant, Archive(settings, assistant.retriever, updater, token="s3cret"))
        page.launch()
    """
    labels = LABELS["id"]
    with gr.Blocks(title="Arsip Berita") as page:
        language = gr.State("id")
        with gr.Row():
            title = gr.Markdown(labels["title"])
            language_choice = gr.Radio(list(LANGUAGES), value="Bahasa Indonesia", label=labels["language"], scale=0)
        with gr.Tab(labels["chat_tab"]):
            chat = chat_tab(assistant, labels)
        with gr.Tab(labels["index_tab"]):
            index = index_tab(assistant, archive, labels)
        wire_chat(assistant, chat, language)
        wire_index(assistant, archive, index, language)
        components = [title, chat.chatbot, chat.question, chat.send, chat.retry, chat.undo, chat.clear, chat.since,
                      chat.until, chat.sources, chat.k, chat.mode, index.access, index.token, index.files, index.update,
                      index.article_query, index.delete_id, index.delete]
        language_choice.change(lambda choice: (LANGUAGES[choice], *relabel(LABELS[LANGUAGES[choice]], archive.writable)),
                               language_choice, [language, *components], api_visibility="private")
    return page


def relabel(labels: dict[str, str], writable: bool) -> list:
    """Updates for the components `build_ui` lists, in that order, in another language."""
    return [gr.update(value=labels["title"]), gr.update(label=labels["chat"]),
            gr.update(label=labels["question"], placeholder=labels["placeholder"]),
            gr.update(value=labels["send"]), gr.update(value=labels["retry"]), gr.update(value=labels["undo"]),
            gr.update(value=labels["clear"]), gr.update(label=labels["since"]), gr.update(label=labels["until"]),
            gr.update(label=labels["sources"]), gr.update(label=labels["k"]), gr.update(label=labels["mode"]),
            gr.update(value=labels["writes_enabled" if writable else "writes_disabled"]),
            gr.update(label=labels["token"]), gr.update(label=labels["upload"]), gr.update(value=labels["update"]),
            gr.update(label=labels["search_articles"]), gr.update(label=labels["delete_id"]), gr.update(value=labels["delete"])]


def chat_tab(assistant: Assistant, labels: dict[str, str]) -> ChatTab:
    """Chat, question box, buttons, examples and filters on the left; the sources on the right."""
    llm = assistant.settings.llm
    modes = [labels["extractive"]] + ([f"LLM: {llm}"] if llm else [])
    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label=labels["chat"], height=480, sanitize_html=True, elem_id="chat")
            question = gr.Textbox(label=labels["question"], placeholder=labels["placeholder"], elem_id="question",
                                  max_length=MAX_QUESTION_CHARS)
            with gr.Row():
                send = gr.Button(labels["send"], variant="primary", elem_id="send")
                retry = gr.Button(labels["retry"], elem_id="retry")
                undo = gr.Button(labels["undo"], elem_id="undo")
                clear = gr.Button(labels["clear"], elem_id="clear")
            gr.Examples(EXAMPLES, inputs=question, label=labels["examples"])
            with gr.Accordion(labels["filters"], open=False):
                with gr.Row():
                    since = gr.Textbox(label=labels["since"], elem_id="since")
                    until = gr.Textbox(label=labels["until"], elem_id="until")
                sources = gr.Dropdown(assistant.retriever.store.sources(), multiselect=True, label=labels["sources"])
                k = gr.Slider(1, 20, value=assistant.settings.top_k, step=1, label=labels["k"])
                mode = gr.Radio(modes, value=modes[0], label=labels["mode"])
        with gr.Column(scale=2):
            sources_panel = gr.HTML(f"<p>{labels['no_sources']}</p>", elem_id="sources")
    return ChatTab(chatbot, question, send, retry, undo, clear, since, until, sources, k, mode, sources_panel)


def index_tab(assistant: Assistant, archive: Archive, labels: dict[str, str]) -> IndexTab:
    """Counts, the token that unlocks writes, upload, update, and the article list with delete."""
    stats = gr.Markdown(index_stats(assistant))
    access = gr.Markdown(labels["writes_enabled"] if archive.writable else labels["writes_disabled"], elem_id="access")
    token = gr.Textbox(label=labels["token"], type="password", elem_id="token", interactive=archive.writable)
    files = gr.File(file_count="multiple", file_types=[".md", ".txt", ".jsonl", ".html", ".htm"],
                    type="filepath", label=labels["upload"], elem_id="upload", interactive=archive.writable)
    upload_report = gr.Markdown(elem_id="upload-report")
    update = gr.Button(labels["update"], variant="primary", elem_id="update", interactive=archive.writable)
    update_report = gr.Markdown(elem_id="update-report")
    article_query = gr.Textbox(label=labels["search_articles"])
    articles = gr.Dataframe(headers=["id", "title", "source", "published"], value=article_rows(archive, ""), interactive=False)
    with gr.Row():
        delete_id = gr.Textbox(label=labels["delete_id"], elem_id="delete-id")
        delete = gr.Button(labels["delete"], variant="stop", elem_id="delete", interactive=archive.writable)
    delete_report = gr.Markdown(elem_id="delete-report")
    return IndexTab(stats, access, token, files, upload_report, update, update_report, article_query, articles,
                    delete_id, delete, delete_report)


def article_rows(archive: Archive, query: str) -> list[list[str]]:
    _, rows = archive.list(query or "", 0, 500)
    return [[row["id"], row["title"], row["source"] or "", row["published"] or ""] for row in rows]


def refusal(error: WriteRefused | ArticleError | ArticleNotFound, language: str) -> str:
    """A refused write as one line in the page's language (article errors keep their reason and hint)."""
    labels = LABELS[language]
    if isinstance(error, WriteRefused):
        return labels["wrong_token"] if error.configured else labels["writes_disabled"]
    if isinstance(error, ArticleNotFound):
        return labels["not_found"]
    return f"{html.escape(error.reason)}. {html.escape(error.hint)}"


def wire_chat(assistant: Assistant, chat: ChatTab, language: gr.State) -> None:
    """Send, Retry, Undo and Clear; the chat event is callable as /chat."""
    def respond(message: str, history: list[dict], since: str, until: str, sources: list[str], k: float,
                mode: str, language: str) -> Iterator[tuple[list[dict], str, str]]:
        message = (message or "").strip()[:MAX_QUESTION_CHARS]  # the box stops typing there; a client may not
        if not message:
            yield history, gr.skip(), ""
            return
        filters = parse_filters(since, until, sources, language)
        history = as_history(history) + [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        llm = assistant.settings.llm if mode.startswith("LLM") else False
        for item in assistant.stream(message, history[:-2], filters, int(k), llm):
            if isinstance(item, Answer):
                history[-1] = {"role": "assistant", "content": render_reply(item)}
                turn = sum(t["role"] == "user" for t in history)
                sources = render_sources(item, assistant.retriever.store.article, language, turn, uuid.uuid4().hex[:12])
                yield history, sources, ""
            else:
                history[-1] = {"role": "assistant", "content": history[-1]["content"] + html.escape(item, quote=False)}
                yield history, gr.skip(), ""

    def retry(history: list[dict], *rest) -> Iterator[tuple[list[dict], str, str]]:
        history = as_history(history)
        users = [i for i, turn in enumerate(history) if turn["role"] == "user"]
        if not users:
            yield history, gr.skip(), ""
            return
        last = users[-1]
        yield from respond(history[last]["content"], history[:last], *rest)

    def undo(history: list[dict]) -> tuple[list[dict], str]:
        history = as_history(history)
        users = [i for i, turn in enumerate(history) if turn["role"] == "user"]
        if not users:
            return history, ""
        return history[: users[-1]], history[users[-1]]["content"]

    inputs = [chat.question, chat.chatbot, chat.since, chat.until, chat.sources, chat.k, chat.mode, language]
    outputs = [chat.chatbot, chat.sources_panel, chat.question]
    chat.question.submit(respond, inputs, outputs, api_name="chat")
    chat.send.click(respond, inputs, outputs, api_visibility="private")
    chat.retry.click(retry, inputs[1:], outputs, api_visibility="private")
    chat.undo.click(undo, chat.chatbot, [chat.chatbot, chat.question], api_visibility="private")
    chat.clear.click(lambda lang: ([], render_sources(None, assistant.retriever.store.article, lang)), language,
                     [chat.chatbot, chat.sources_panel], api_visibility="private")


def wire_index(assistant: Assistant, archive: Archive, index: IndexTab, language: gr.State) -> None:
    """Upload, update and delete (each needs the token: /upload_articles, /update_index,
    /delete_article) and the article search."""
    def upload(files: list[str] | None, token: str, language: str) -> str:
        try:
            archive.authorize(token)  # before reading the files
        except WriteRefused as error:
            return f"❌ {refusal(error, language)}"
        lines = []
        for path in files or []:
            name = Path(path).name
            try:
                saved, articles = archive.save_file(name, Path(path).read_bytes(), token)
                lines.append(f"✅ {html.escape(saved.name)}: {LABELS[language]['saved'].format(count=len(articles))}")
            except ArticleError as error:
                lines.append(f"❌ {html.escape(name)}: {refusal(error, language)}")
        return "\n".join(f"- {line}" for line in lines)

    def update(token: str, language: str, progress: gr.Progress = gr.Progress()) -> tuple[str, str]:
        try:
            job = archive.start_update(token)
        except WriteRefused as error:
            return f"❌ {refusal(error, language)}", index_stats(assistant)
        while job.state == "running":
            progress((job.done, job.total) if job.total else 0.0, desc="embedding", unit="chunks")
            time.sleep(0.3)
        message = job.summary if job.state == "done" else f"❌ {job.error}"
        problems = "".join(f"\n- ⚠ {html.escape(p)}" for p in job.problems)
        return f"{html.escape(message or '')}{problems}", index_stats(assistant)

    def delete(article_id: str, token: str, language: str) -> str:
        try:
            article = archive.delete((article_id or "").strip(), token)
        except (WriteRefused, ArticleError, ArticleNotFound) as error:
            return f"❌ {html.escape(article_id or '')}: {refusal(error, language)}"
        return f"🗑 {html.escape(article.id)}: {LABELS[language]['deleted']}"

    index.files.upload(upload, [index.files, index.token, language], index.upload_report, api_name="upload_articles")
    index.update.click(update, [index.token, language], [index.update_report, index.stats], api_name="update_index",
                       concurrency_limit=1)
    index.article_query.change(lambda query: article_rows(archive, query), index.article_query, index.articles,
                               api_visibility="private")
    index.delete.click(delete, [index.delete_id, index.token, language], index.delete_report, api_name="delete_article")
