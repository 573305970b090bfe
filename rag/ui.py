"""The Gradio web app: a chat with cited answers, a sources panel that shows each cited sentence
in its article, filters, and an index tab. A thin shell over `rag.Assistant`.

Every piece of article data is escaped before it reaches the page: titles, text and URLs
are shown as text, never as live HTML, and only http(s) links are made clickable.
"""

from __future__ import annotations

import datetime as dt
import html
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gradio as gr

from rag.answer import Answer, Assistant
from rag.corpus import Article, ArticleError, remove_article_file, save_article_file
from rag.indexer import IndexUpdater
from rag.retriever import Filters

LABELS = {
    "id": {
        "title": "# Arsip Berita\nTanyakan apa saja tentang arsip berita; setiap jawaban menunjuk kalimat sumbernya.",
        "chat_tab": "Tanya", "index_tab": "Indeks", "question": "Pertanyaan",
        "placeholder": "Misalnya: Apa yang dikatakan Lavrov tentang perluasan NATO?",
        "send": "Kirim", "retry": "Ulangi", "undo": "Batalkan", "clear": "Hapus percakapan",
        "filters": "Filter", "since": "Sejak (YYYY-MM-DD)", "until": "Sampai (YYYY-MM-DD)", "sources": "Sumber",
        "k": "Jumlah bagian yang dibaca", "mode": "Mode jawaban", "extractive": "Ekstraktif (kutipan)",
        "sources_heading": "Sumber", "no_sources": "Sumber jawaban terakhir muncul di sini.",
        "open_article": "Buka artikel lengkap", "upload": "Unggah artikel (.md, .txt, .jsonl, .html)",
        "update": "Perbarui indeks", "search_articles": "Cari artikel", "delete_id": "ID artikel yang dihapus",
        "delete": "Hapus artikel", "language": "Bahasa antarmuka", "examples": "Contoh pertanyaan",
        "bad_date": "Tanggal harus berformat YYYY-MM-DD", "chat": "Percakapan",
    },
    "en": {
        "title": "# News Archive\nAsk anything about the news archive; every answer points to its source sentence.",
        "chat_tab": "Ask", "index_tab": "Index", "question": "Question",
        "placeholder": "For example: What did Lavrov say about NATO expansion?",
        "send": "Send", "retry": "Retry", "undo": "Undo", "clear": "Clear chat",
        "filters": "Filters", "since": "Since (YYYY-MM-DD)", "until": "Until (YYYY-MM-DD)", "sources": "Sources",
        "k": "Passages read", "mode": "Answer mode", "extractive": "Extractive (quotes)",
        "sources_heading": "Sources", "no_sources": "The sources of the latest answer appear here.",
        "open_article": "Open the full article", "upload": "Upload articles (.md, .txt, .jsonl, .html)",
        "update": "Update index", "search_articles": "Search articles", "delete_id": "Article id to delete",
        "delete": "Delete article", "language": "Interface language", "examples": "Example questions",
        "bad_date": "Dates must be written YYYY-MM-DD", "chat": "Conversation",
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


def render_sources(answer: Answer | None, article_of: Callable[[str], Article | None], language: str) -> str:
    """One card per source (passage with the cited sentence highlighted) and its full article, collapsed.

    `article_of` looks an article up by id (the live index's `IndexStore.article`).
    """
    labels = LABELS[language]
    if answer is None or not answer.sources:
        return f"<p>{labels['no_sources']}</p>"
    cards = [f"<h3>{labels['sources_heading']}</h3>"]
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
    return "\n".join(cards)


def render_reply(answer: Answer) -> str:
    """The reply as chat markdown: escaped text, each [n] a link to its source."""
    text = html.escape(answer.text, quote=False)
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


def index_stats(assistant: Assistant) -> str:
    manifest = assistant.retriever.refresh().manifest
    return (f"**{manifest.articles}** articles · **{manifest.chunks}** chunks · model `{manifest.model_id}` · "
            f"generation `{manifest.generation}` · built {manifest.built_at}")


def build_ui(assistant: Assistant, updater: IndexUpdater, max_upload_mb: float = 20) -> gr.Blocks:
    """The whole page. Events with an api_name are callable through gradio_client."""
    store = assistant.retriever.store
    known_sources = store.sources()
    llm = assistant.settings.llm
    modes = [LABELS["id"]["extractive"]] + ([f"LLM: {llm}"] if llm else [])

    def respond(message: str, history: list[dict], since: str, until: str, sources: list[str], k: float,
                mode: str, language: str) -> Iterator[tuple[list[dict], str, str]]:
        message = (message or "").strip()
        if not message:
            yield history, gr.skip(), ""
            return
        filters = parse_filters(since, until, sources, language)
        history = history + [{"role": "user", "content": message}, {"role": "assistant", "content": ""}]
        use_llm = llm if mode.startswith("LLM") else None
        for item in assistant.stream(message, history[:-2], filters, int(k), use_llm):
            if isinstance(item, Answer):
                history[-1] = {"role": "assistant", "content": render_reply(item)}
                yield history, render_sources(item, assistant.retriever.store.article, language), ""
            else:
                history[-1] = {"role": "assistant", "content": history[-1]["content"] + html.escape(item, quote=False)}
                yield history, gr.skip(), ""

    def retry(history: list[dict], *rest) -> Iterator[tuple[list[dict], str, str]]:
        users = [i for i, turn in enumerate(history) if turn["role"] == "user"]
        if not users:
            yield history, gr.skip(), ""
            return
        last = users[-1]
        yield from respond(history[last]["content"], history[:last], *rest)

    def undo(history: list[dict]) -> tuple[list[dict], str]:
        users = [i for i, turn in enumerate(history) if turn["role"] == "user"]
        if not users:
            return history, ""
        return history[: users[-1]], history[users[-1]]["content"]

    def upload(files: list[str] | None, language: str) -> str:
        lines = []
        for path in files or []:
            name = Path(path).name
            try:
                saved, articles = save_article_file(assistant.settings.corpus_dir, name, Path(path).read_bytes(),
                                                    int(max_upload_mb * 2**20))
                lines.append(f"✅ {html.escape(saved.name)}: {len(articles)} article(s)")
            except ArticleError as error:
                lines.append(f"❌ {html.escape(name)}: {html.escape(error.reason)}. {html.escape(error.hint)}")
        return "\n".join(f"- {line}" for line in lines)

    def update(progress: gr.Progress = gr.Progress()) -> tuple[str, str]:
        job = updater.start()
        while job.state == "running":
            progress((job.done, job.total) if job.total else 0.0, desc="embedding", unit="chunks")
            time.sleep(0.3)
        message = job.summary if job.state == "done" else f"❌ {job.error}"
        problems = "".join(f"\n- ⚠ {html.escape(p)}" for p in job.problems)
        return f"{html.escape(message or '')}{problems}", index_stats(assistant)

    def list_articles(query: str) -> list[list[str]]:
        query = (query or "").strip().lower()
        rows = []
        for article in assistant.retriever.refresh().article_list():
            if not query or query in article["title"].lower() or query in article["id"].lower():
                rows.append([article["id"], article["title"], article["source"] or "", article["published"] or ""])
        return rows[:500]

    def delete(article_id: str) -> str:
        article = assistant.retriever.refresh().article((article_id or "").strip())
        if article is None:
            return f"❌ {html.escape(article_id or '')}: not in the index"
        try:
            remove_article_file(assistant.settings.corpus_dir, article)
        except ArticleError as error:
            return f"❌ {html.escape(error.reason)}. {html.escape(error.hint)}"
        return f"🗑 {html.escape(article.id)} removed from the corpus; update the index to drop it"

    def switch_language(choice: str):
        labels = LABELS[LANGUAGES[choice]]
        return (LANGUAGES[choice], gr.update(value=labels["title"]), gr.update(label=labels["chat"]),
                gr.update(label=labels["question"], placeholder=labels["placeholder"]),
                gr.update(value=labels["send"]), gr.update(value=labels["retry"]), gr.update(value=labels["undo"]),
                gr.update(value=labels["clear"]), gr.update(label=labels["since"]), gr.update(label=labels["until"]),
                gr.update(label=labels["sources"]), gr.update(label=labels["k"]), gr.update(label=labels["mode"]),
                gr.update(label=labels["upload"]), gr.update(value=labels["update"]), gr.update(label=labels["search_articles"]),
                gr.update(label=labels["delete_id"]), gr.update(value=labels["delete"]))

    labels = LABELS["id"]
    with gr.Blocks(title="Arsip Berita") as page:
        language = gr.State("id")
        with gr.Row():
            title = gr.Markdown(labels["title"])
            language_choice = gr.Radio(list(LANGUAGES), value="Bahasa Indonesia", label=labels["language"], scale=0)
        with gr.Tab(labels["chat_tab"]):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(label=labels["chat"], height=480, sanitize_html=True, elem_id="chat")
                    question = gr.Textbox(label=labels["question"], placeholder=labels["placeholder"], elem_id="question")
                    with gr.Row():
                        send = gr.Button(labels["send"], variant="primary", elem_id="send")
                        retry_button = gr.Button(labels["retry"], elem_id="retry")
                        undo_button = gr.Button(labels["undo"], elem_id="undo")
                        clear_button = gr.Button(labels["clear"], elem_id="clear")
                    gr.Examples(EXAMPLES, inputs=question, label=labels["examples"])
                    with gr.Accordion(labels["filters"], open=False):
                        with gr.Row():
                            since = gr.Textbox(label=labels["since"], elem_id="since")
                            until = gr.Textbox(label=labels["until"], elem_id="until")
                        sources = gr.Dropdown(known_sources, multiselect=True, label=labels["sources"])
                        k = gr.Slider(1, 20, value=assistant.settings.top_k, step=1, label=labels["k"])
                        mode = gr.Radio(modes, value=modes[0], label=labels["mode"])
                with gr.Column(scale=2):
                    sources_panel = gr.HTML(f"<p>{labels['no_sources']}</p>", elem_id="sources")
        with gr.Tab(labels["index_tab"]):
            stats = gr.Markdown(index_stats(assistant))
            files = gr.File(file_count="multiple", file_types=[".md", ".txt", ".jsonl", ".html", ".htm"],
                            type="filepath", label=labels["upload"], elem_id="upload")
            upload_report = gr.Markdown(elem_id="upload-report")
            update_button = gr.Button(labels["update"], variant="primary", elem_id="update")
            update_report = gr.Markdown(elem_id="update-report")
            article_query = gr.Textbox(label=labels["search_articles"])
            articles = gr.Dataframe(headers=["id", "title", "source", "published"], value=list_articles(""), interactive=False)
            with gr.Row():
                delete_id = gr.Textbox(label=labels["delete_id"])
                delete_button = gr.Button(labels["delete"], variant="stop")
            delete_report = gr.Markdown()

        chat_inputs = [question, chatbot, since, until, sources, k, mode, language]
        chat_outputs = [chatbot, sources_panel, question]
        question.submit(respond, chat_inputs, chat_outputs, api_name="chat")
        send.click(respond, chat_inputs, chat_outputs, api_visibility="private")
        retry_button.click(retry, chat_inputs[1:], chat_outputs, api_visibility="private")
        undo_button.click(undo, chatbot, [chatbot, question], api_visibility="private")
        clear_button.click(lambda lang: ([], render_sources(None, assistant.retriever.store.article, lang)), language, [chatbot, sources_panel], api_visibility="private")
        files.upload(upload, [files, language], upload_report, api_visibility="private")
        update_button.click(update, None, [update_report, stats], api_name="update_index", concurrency_limit=1)
        article_query.change(list_articles, article_query, articles, api_visibility="private")
        delete_button.click(delete, delete_id, delete_report, api_visibility="private")
        language_choice.change(
            switch_language, language_choice,
            [language, title, chatbot, question, send, retry_button, undo_button, clear_button, since, until, sources, k,
             mode, files, update_button, article_query, delete_id, delete_button],
            api_visibility="private",
        )
    return page
