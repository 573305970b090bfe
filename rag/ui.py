"""The Gradio web app: a chat whose every answer keeps its cited sources, filters, and an index
tab. A thin shell over `rag.answer.Assistant` (answers) and `rag.articles.Archive` (listing and
the token-checked writes); what it shows is rendered by `rag.ui_render`, in the words of
`rag.ui_text`.

The conversation lives in the session's state (`Turn`: question, answer, answer id), not in the
chat component: Send, Retry, Undo, a follow-up and the chat's own clear button all change that
list, and the chat and the sources panel are drawn from it. So a follow-up is read with the
questions before it, Retry and Undo work on exactly what was asked, and each answer's `[n]` keeps
opening its own article.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from rag.answer import MAX_QUESTION_CHARS, Answer, Assistant
from rag.articles import Archive, ArticleNotFound, WriteRefused
from rag.corpus import SUFFIXES
from rag.followups import suggest_follow_ups
from rag.indexer import IndexUpdater, UpdateJob
from rag.retriever import Filters
from rag.problems import ArticleError
from rag.ui_render import Turn, literal, render_reply, render_sources, typed_text
from rag.ui_text import EXAMPLES, GRADIO_TOOLTIPS, LABELS, LANGUAGES, counted, format_date

_log = logging.getLogger(__name__)

FOLLOW_UPS = 3  # suggested follow-up buttons under the question box
LISTED = 500  # articles a page of the index tab's list holds (its caption says which; ‹ and › turn the pages)
PERIODS = {"all_time": None, "last_7": 7, "last_30": 30, "last_365": 365}
ARTICLE_COLUMNS = (50, 20, 15, 15)  # the article table's widths in percent: title, outlet, date, id

# System fonts only: Gradio's default theme asks a font CDN, which an offline newsroom cannot reach.
# The primary buttons' white text on a darker orange than Gradio's (2.8:1 there; 5.2:1 here, WCAG AA).
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
                          font_mono=["ui-monospace", "Consolas", "monospace"]).set(
    button_primary_background_fill="#c2410c", button_primary_background_fill_hover="#9a3412",
    button_primary_background_fill_dark="#c2410c", button_primary_background_fill_hover_dark="#9a3412",
    button_primary_text_color="#ffffff", button_primary_text_color_dark="#ffffff")

CSS = """
#sources {max-height: 600px; overflow-y: auto !important;}
#sources details.turn > summary {cursor: pointer; list-style-position: inside;}  /* outside, the scrolling panel cut the triangle */
#sources details.turn > summary h3 {display: inline; font-size: 1em;}
.source-card {border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 12px; margin: 8px 0;}
.source-card h4 {margin: 4px 0;}
.source-card p {margin: 4px 0; overflow-wrap: anywhere;}
.card-head {display: flex; gap: 6px; align-items: center; font-size: 0.85em; color: var(--body-text-color-subdued);}
.card-head .badge {display: inline-flex; width: 1.6em; height: 1.6em; border-radius: 50%; align-items: center;
  justify-content: center; background: var(--color-accent-soft, #e0e7ff); font-weight: 700;}
.card-foot, .also-in {font-size: 0.85em;}
.also-in {color: var(--body-text-color-subdued); margin-top: 2px;}
.card-foot button.copy-quote {border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 0 6px;
  background: var(--button-secondary-background-fill); cursor: pointer; font-size: 1em; font-weight: normal;}
.source-card mark, .article-view mark {background: #ffe58a; color: inherit; padding: 0 2px;}
.article-view {white-space: pre-wrap; max-height: 420px; overflow-y: auto; border-left: 3px solid #f0b400; padding-left: 10px;}
mark.focused {outline: 2px solid #d48806;}
#chat a[href^="#cite-"], .source-card a[href^="#cite-"] {color: var(--link-text-color, #2563eb); font-weight: 600; text-decoration: underline;}
#buttons button, #follow-ups button {min-width: 0;}
#follow-ups-label p {margin: 0; font-size: 0.85em; font-weight: 600;}
#question-count {text-align: right; font-size: 0.8em; color: var(--body-text-color-subdued);}
#filter-error p {color: var(--error-text-color, #b91c1c); font-weight: 600;}
@media (max-width: 640px) {
  #sources {max-height: none; overflow-y: visible !important;}
  /* the article table: title, outlet, date; the id column (a file name) is for the desktop and the delete box */
  #articles th:nth-child(4), #articles td:nth-child(4), #articles .virtual-row > :nth-child(4) {display: none;}
  /* the rows' cells take the hidden column's width as the header's table layout does (in proportion to
     ARTICLE_COLUMNS), so that cells stay under their headings */
  PHONE_COLUMNS
  #articles th, #articles .body-cell, #articles .body-cell * {word-break: normal !important; overflow-wrap: normal !important; hyphens: auto;}
  .gradio-container {padding-left: 6px !important; padding-right: 6px !important;}
}
""".replace("PHONE_COLUMNS", "\n  ".join(
    f"#articles .virtual-row > :nth-child({n}) {{flex-grow: {width} !important;}}" for n, width in enumerate(ARTICLE_COLUMNS[:3], 1)))


def _gradio_core_module() -> str:
    """The file name of Gradio's front-end module that exports `changeLocale` ('' if this Gradio
    has none: its own tooltips then follow the browser's language, with one log line)."""
    assets = Path(gr.__file__).parent / "templates" / "frontend" / "assets"
    for path in sorted(assets.glob("core-*.js")):
        if "changeLocale" in path.read_text(encoding="utf-8", errors="replace"):
            return path.name
    _log.warning("Gradio %s has no changeLocale: its own buttons' tooltips follow the browser's language", gr.__version__)
    return ""


# The page's language: ?lang=en|id in the address, else the one last chosen in this browser, else
# Indonesian. Gradio's own strings are set to it before the components mount (Gradio takes them
# from the browser's language otherwise, and its locale set later does not reach mounted
# components). The tooltips of Gradio's buttons (the chat's Clear and Copy, the table's Copy and
# Fullscreen) are relabelled from `GRADIO_TOOLTIPS` whenever the page changes: after a switch in
# the page too, and where Gradio has no Indonesian ("Copy conversation").
LANGUAGE_HEAD = f"""
<script>
window.ragLanguage = () => {{
  const wanted = new URLSearchParams(location.search).get("lang") || localStorage.getItem("rag-language");
  return {json.dumps(sorted(LANGUAGES.values()))}.includes(wanted) ? wanted : "id";
}};
window.ragTooltips = (() => {{
  // built once: for each page language, a tooltip of either language -> that language's
  const pairs = Object.entries({json.dumps(GRADIO_TOOLTIPS)});
  const to = {{en: new Map(pairs.flatMap(([en, id]) => [[en, en], [id, en]])), id: new Map(pairs.flatMap(([en, id]) => [[en, id], [id, id]]))}};
  return () => {{
    const wanted = to[window.ragLanguage()];
    document.querySelectorAll("button[title], button[aria-label]").forEach((button) => {{
      for (const name of ["title", "aria-label"]) {{
        const now = button.getAttribute(name), want = wanted.get(now);
        if (want && want !== now) button.setAttribute(name, want);
      }}
    }});
  }};
}})();
new MutationObserver(window.ragTooltips).observe(document.documentElement,
  {{subtree: true, childList: true, attributes: true, attributeFilter: ["title", "aria-label"]}});
(() => {{
  const language = window.ragLanguage(), core = {json.dumps(_gradio_core_module())};
  document.documentElement.lang = language;
  const entry = document.querySelector("script[type=module][src*='/assets/index-']");
  if (entry && core) import(new URL(core, entry.src).href).then((module) => module.changeLocale(language));
}})();
</script>
"""

# At load: the radio shows the page's language (its change event relabels the page).
LOAD_LANGUAGE_JS = f"() => ({json.dumps({code: name for name, code in LANGUAGES.items()})})[window.ragLanguage()]"

# A language chosen in the page is remembered in this browser (and replaces ?lang= in the address).
SAVE_LANGUAGE_JS = f"""(name) => {{
  const code = ({json.dumps(LANGUAGES)})[name];
  localStorage.setItem("rag-language", code);
  const address = new URL(location.href);
  if (address.searchParams.has("lang")) {{ address.searchParams.set("lang", code); history.replaceState(null, "", address); }}
  window.ragTooltips();
}}"""

# Clicking a citation [n] of answer t (in the chat or on a card) opens that answer's sources,
# article n, and scrolls to the cited sentence; "Copy quote" puts the citation line on the clipboard.
HEAD = LANGUAGE_HEAD + """
<script>
document.addEventListener("click", (event) => {
  const copy = event.target.closest("button.copy-quote");
  if (copy) {
    const text = copy.dataset.citation;
    const done = () => { copy.textContent = copy.dataset.copied; };
    if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text).then(done); }
    else {
      const area = Object.assign(document.createElement("textarea"), {value: text});
      document.body.appendChild(area); area.select(); document.execCommand("copy"); area.remove(); done();
    }
    return;
  }
  const link = event.target.closest("a[href^='#cite-']");
  if (!link) return;
  event.preventDefault();
  const key = link.getAttribute("href").slice(6);  // "t-n", or "t-n-2" for the second sentence quoted from n
  const [t, n] = key.split("-");
  const turn = document.getElementById("turn-" + t);
  if (turn) turn.open = true;
  const details = document.getElementById("article-" + t + "-" + n);
  if (!details) return;
  details.open = true;
  document.querySelectorAll("mark.focused").forEach((m) => m.classList.remove("focused"));
  const mark = document.getElementById("cite-" + key) || document.getElementById("cite-" + t + "-" + n);
  if (mark) { mark.classList.add("focused"); mark.scrollIntoView({block: "center"}); }
  else { document.getElementById("source-" + t + "-" + n).scrollIntoView({block: "start"}); }
});
</script>
"""


# Characters typed, shown under the question box (empty when the box is).
COUNTER_JS = f"""(text) => {{
  const box = document.querySelector("#question");
  let count = document.getElementById("question-count");
  if (!count) {{ count = Object.assign(document.createElement("div"), {{id: "question-count"}}); box.appendChild(count); }}
  count.textContent = text ? `${{text.length}} / {MAX_QUESTION_CHARS}` : "";
}}"""


# A question whose answer failed, or the one undone, goes back in the question box, unless the box holds
# something typed there (not a question put back before, left as it was: a second Undo puts back the one before).
UNSENT_JS = """(typed, unsent) => {
  if (!unsent || (typed && typed !== window.ragPutBack)) return typed;
  window.ragPutBack = unsent;
  return unsent;
}"""


# Retry and Undo shut, and an answer said to be coming (which shuts editing), in the page itself
ASKING_JS = '() => [{__type__: "update", interactive: false}, {__type__: "update", interactive: false}, true]'


def chat_editing(allowed: bool) -> gr.Chatbot:
    """The chat's questions editable or not (a component, not `gr.update`: an update drops the
    None that turns editing off; its value is left as it is)."""
    return gr.Chatbot(editable="user" if allowed else None)


def parse_filters(since: str, until: str, sources: list[str] | None) -> tuple[Filters | None, str | None]:
    """The filters, or (None, the value that is not a YYYY-MM-DD date)."""
    dates = []
    for value in (since, until):
        value = (value or "").strip()
        try:
            dates.append(dt.date.fromisoformat(value) if value else None)
        except ValueError:
            return None, value
    return Filters(dates[0], dates[1], tuple(sources or ())), None


def history_of(turns: Sequence[Turn]) -> list[dict[str, str]]:
    """The conversation as the library's history: `{"role", "content"}` turns, plain text."""
    return [message for turn in turns for message in
            ({"role": "user", "content": turn.question}, {"role": "assistant", "content": turn.answer.text})]


def chat_messages(turns: Sequence[Turn]) -> list[dict[str, str]]:
    """The conversation as the chat shows it: each question exactly as typed, each reply rendered."""
    return [message for t, turn in enumerate(turns, 1) for message in
            ({"role": "user", "content": literal(turn.question)}, {"role": "assistant", "content": render_reply(turn.answer, t)})]


def failed_question(shown: list[dict] | None, conversation: Sequence[Turn]) -> str | None:
    """The question of a failed answer that the chat shows after the conversation's last turn
    (the chat's messages `shown`), or None when it shows only the conversation.

    Example::

        failed_question([{"role": "user", "content": "Siapa?"}, {"role": "assistant", "content": "⚠ ..."}], [])
        # 'Siapa?'
    """
    questions = [message for message in shown or [] if message.get("role") == "user"]
    if len(questions) <= len(conversation):
        return None
    return typed_text(questions[-1]["content"]).strip() or None


def index_stats(assistant: Assistant, language: str) -> str:
    manifest = assistant.retriever.refresh().manifest
    return LABELS[language]["stats"].format(articles=counted(manifest.articles, "article", language, bold=True),
                                            chunks=counted(manifest.chunks, "chunk", language, bold=True), model=manifest.model_id,
                                            generation=manifest.generation, built=manifest.built_at)


@dataclass
class ChatTab:
    """The chat tab's components."""

    active: gr.CheckboxGroup
    chatbot: gr.Chatbot
    sources_panel: gr.HTML
    question: gr.Textbox
    unsent: gr.Textbox  # hidden: a question whose answer failed, or the one undone, for the box (UNSENT_JS)
    answering: gr.Checkbox  # hidden: an answer is coming (no question in the chat can be edited meanwhile)
    send: gr.Button
    retry: gr.Button
    undo: gr.Button
    follow_up_label: gr.Markdown
    follow_ups: list[gr.Button]
    examples: gr.Dataset
    filters: gr.Accordion
    period: gr.Radio
    since: gr.Textbox
    until: gr.Textbox
    filter_error: gr.Markdown
    sources: gr.Dropdown
    k: gr.Slider
    mode: gr.Radio


@dataclass
class IndexTab:
    """The index tab's components."""

    stats: gr.Markdown
    access: gr.Markdown
    token: gr.Textbox
    files: gr.UploadButton
    upload_report: gr.Markdown
    update: gr.Button
    update_report: gr.Markdown
    auto_report: gr.Markdown
    article_query: gr.Textbox
    articles: gr.Dataframe
    pager: gr.Row  # ‹ and ›, shown when the articles fill more than one page
    previous: gr.Button
    next: gr.Button
    offset: gr.State  # the first article of the page shown (0, 500, ...)
    delete_id: gr.Textbox
    delete: gr.Button
    confirm_row: gr.Row
    confirm_text: gr.Markdown
    confirm: gr.Button
    cancel: gr.Button
    delete_report: gr.Markdown

    @property
    def listing(self) -> list:
        """The article list's components, in `article_list`'s order."""
        return [self.articles, self.pager, self.previous, self.next, self.offset]


def build_ui(assistant: Assistant, archive: Archive) -> gr.Blocks:
    """The whole page: a chat tab and an index tab. Events with an api_name are callable through
    gradio_client; the write events (upload, delete, update) take the token and are refused without it.

    Example::

        page = build_ui(assistant, Archive(settings, assistant.retriever, updater, token="s3cret"))
        page.launch(**page_options())
    """
    labels = LABELS["id"]
    with gr.Blocks(title="Arsip Berita") as page:
        language = gr.State("id")
        turns = gr.State([])
        with gr.Row():
            title = gr.Markdown(labels["title"])
            language_choice = gr.Radio(list(LANGUAGES), value="Bahasa Indonesia", label=labels["language"], scale=0,
                                       elem_id="language")
        with gr.Tab(labels["chat_tab"], elem_id="chat-tab") as chat_tab_:
            chat = chat_tab(assistant, labels)
        with gr.Tab(labels["index_tab"], elem_id="index-tab") as index_tab_:
            index = index_tab(assistant, archive, labels)
        wire_chat(assistant, chat, turns, language)
        wire_index(assistant, archive, index, chat.sources, language)

        def switch(choice: str, conversation: list[Turn], query: str, offset: int, since: str, until: str,
                   outlets: list[str]) -> list:
            code = LANGUAGES[choice]
            panel = render_sources(conversation, assistant.retriever.store.article, code)
            return [code, *relabel(LABELS[code], archive.writable, assistant.settings.llm), active_filters(since, until, outlets, code), panel,
                    index_stats(assistant, code), auto_status(archive.updater, code),
                    *article_list(archive, query, code, offset), "", "", "",  # old reports go,
                    gr.update(visible=False), gr.update(visible=False)]  # as do a date error and a pending delete

        components = [title, language_choice, chat_tab_, index_tab_, chat.chatbot, chat.question, chat.send, chat.retry,
                      chat.undo, chat.examples, chat.filters, chat.period, chat.since, chat.until, chat.sources, chat.k,
                      chat.mode, index.access, index.token, index.files, index.update, index.article_query,
                      index.delete_id, index.delete, index.confirm, index.cancel, chat.follow_up_label]
        language_choice.change(switch, [language_choice, turns, index.article_query, index.offset, chat.since, chat.until,
                                        chat.sources],
                               [language, *components, chat.active, chat.sources_panel, index.stats, index.auto_report, *index.listing,
                                index.upload_report, index.update_report, index.delete_report, chat.filter_error,
                                index.confirm_row],
                               api_visibility="private")
        language_choice.change(None, language_choice, None, js=SAVE_LANGUAGE_JS)
        page.load(None, None, language_choice, js=LOAD_LANGUAGE_JS)
        # built once when the app started: a page opened after an update shows the index as it is now
        page.load(lambda code, query: index_views(assistant, archive, code, query), [language, index.article_query],
                  [index.stats, chat.sources, *index.listing], api_visibility="private")
    return page


def relabel(labels: dict[str, str], writable: bool, llm: str | None) -> list:
    """Updates for the components `build_ui` lists, in that order, in another language."""
    return [gr.update(value=labels["title"]), gr.update(label=labels["language"]), gr.update(label=labels["chat_tab"]),
            gr.update(label=labels["index_tab"]), gr.update(label=labels["chat"]),
            gr.update(label=labels["question"], placeholder=labels["placeholder"]),
            gr.update(value=labels["send"]), gr.update(value=labels["retry"]), gr.update(value=labels["undo"]),
            gr.update(label=labels["examples"]), gr.update(label=labels["filters"]),
            gr.update(label=labels["period"], choices=periods(labels)), gr.update(label=labels["since"]),
            gr.update(label=labels["until"]), gr.update(label=labels["sources"]), gr.update(label=labels["k"]),
            gr.update(label=labels["mode"], choices=modes(labels, llm)),
            gr.update(value=labels["writes_enabled" if writable else "writes_disabled"]),
            gr.update(label=labels["token"]), gr.update(label=labels["upload"]), gr.update(value=labels["update"]),
            gr.update(label=labels["search_articles"]), gr.update(label=labels["delete_id"]),
            gr.update(value=labels["delete"]), gr.update(value=labels["confirm"]), gr.update(value=labels["cancel"]),
            gr.update(value=labels["follow_ups"])]


def periods(labels: dict[str, str]) -> list[tuple[str, str]]:
    return [(labels[key], key) for key in PERIODS]


def modes(labels: dict[str, str], llm: str | None) -> list[tuple[str, str]]:
    """Answer modes as (label, value): the value stays the same in every language."""
    return [(labels["extractive"], "extractive")] + ([(f"LLM: {llm}", "llm")] if llm else [])


def chat_tab(assistant: Assistant, labels: dict[str, str]) -> ChatTab:
    """The active filters (one click removes one); the chat with the question box, its buttons and
    the suggested follow-ups under it, beside the sources (on a phone: the answer, the box, then
    the sources); then examples and filters."""
    active = gr.CheckboxGroup(label=labels["active_filters"], visible=False, elem_id="active-filters")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):  # the box under the answer: on a phone both fit one screen
            chatbot = gr.Chatbot(label=labels["chat"], height=480, sanitize_html=True, elem_id="chat", buttons=["copy", "copy_all"],
                                 editable="user")
            question = gr.Textbox(label=labels["question"], placeholder=labels["placeholder"], elem_id="question",
                                  max_length=MAX_QUESTION_CHARS)
            unsent = gr.Textbox(visible=False)
            answering = gr.Checkbox(False, visible=False)
            with gr.Row(elem_id="buttons"):
                send = gr.Button(labels["send"], variant="primary", elem_id="send", size="sm")
                retry = gr.Button(labels["retry"], elem_id="retry", size="sm")
                undo = gr.Button(labels["undo"], elem_id="undo", size="sm")
            follow_up_label = gr.Markdown(visible=False, elem_id="follow-ups-label")
            with gr.Row(elem_id="follow-ups"):
                follow_ups = [gr.Button(visible=False, size="sm", elem_classes="follow-up") for _ in range(FOLLOW_UPS)]
        with gr.Column(scale=2, min_width=300):
            sources_panel = gr.HTML(render_sources([], assistant.retriever.store.article, "id"), elem_id="sources")
    examples = gr.Examples(EXAMPLES, inputs=question, label=labels["examples"]).dataset
    with gr.Accordion(labels["filters"], open=False, elem_id="filters") as filters:
        period = gr.Radio(periods(labels), value="all_time", label=labels["period"], elem_id="period")
        with gr.Row():
            since = gr.Textbox(label=labels["since"], elem_id="since")
            until = gr.Textbox(label=labels["until"], elem_id="until")
        filter_error = gr.Markdown(visible=False, elem_id="filter-error")
        sources = gr.Dropdown(assistant.retriever.store.sources(), multiselect=True, label=labels["sources"], elem_id="outlets")
        k = gr.Slider(1, 20, value=assistant.settings.top_k, step=1, label=labels["k"])
        choices = modes(labels, assistant.settings.llm)
        mode = gr.Radio(choices, value=choices[0][1], label=labels["mode"])
    return ChatTab(active, chatbot, sources_panel, question, unsent, answering, send, retry, undo, follow_up_label, follow_ups, examples, filters, period, since,
                   until, filter_error, sources, k, mode)


def index_tab(assistant: Assistant, archive: Archive, labels: dict[str, str]) -> IndexTab:
    """Counts, the token that unlocks writes, upload, update, and the article list with delete."""
    stats = gr.Markdown(index_stats(assistant, "id"), elem_id="stats")
    access = gr.Markdown(labels["writes_enabled"] if archive.writable else labels["writes_disabled"], elem_id="access")
    token = gr.Textbox(label=labels["token"], type="password", elem_id="token", interactive=archive.writable)
    # A button, not Gradio's drop zone: its texts ("Drop File Here") would stay English in the Indonesian page.
    files = gr.UploadButton(labels["upload"], file_count="multiple", file_types=sorted(SUFFIXES),
                            type="filepath", elem_id="upload", interactive=archive.writable)
    upload_report = gr.Markdown(elem_id="upload-report")
    update = gr.Button(labels["update"], variant="primary", elem_id="update", interactive=archive.writable)
    update_report = gr.Markdown(elem_id="update-report")
    auto_report = gr.Markdown(auto_status(archive.updater, "id"), elem_id="auto-update")
    article_query = gr.Textbox(label=labels["search_articles"], elem_id="article-query")
    rows, caption, _, total = article_table(archive, "", "id")
    articles = gr.Dataframe(headers=headers("id"), value=rows, label=caption, show_label=True, interactive=False,
                            wrap=True, elem_id="articles", column_widths=[f"{width}%" for width in ARTICLE_COLUMNS])
    with gr.Row(visible=total > LISTED, elem_id="pager") as pager:
        previous = gr.Button(labels["previous_page"], size="sm", elem_id="previous-page", interactive=False, scale=0, min_width=120)
        next_ = gr.Button(labels["next_page"], size="sm", elem_id="next-page", scale=0, min_width=120)
    offset = gr.State(0)
    with gr.Row():
        delete_id = gr.Textbox(label=labels["delete_id"], elem_id="delete-id")
        delete = gr.Button(labels["delete"], variant="stop", elem_id="delete", interactive=archive.writable, scale=0)
    with gr.Row(visible=False, elem_id="confirm-delete") as confirm_row:
        confirm_text = gr.Markdown()
        confirm = gr.Button(labels["confirm"], variant="stop", elem_id="confirm", scale=0)
        cancel = gr.Button(labels["cancel"], elem_id="cancel", scale=0)
    delete_report = gr.Markdown(elem_id="delete-report")
    return IndexTab(stats, access, token, files, upload_report, update, update_report, auto_report, article_query, articles,
                    pager, previous, next_, offset, delete_id, delete, confirm_row, confirm_text, confirm, cancel, delete_report)


def headers(language: str) -> list[str]:
    labels = LABELS[language]
    return [labels["column_title"], labels["column_source"], labels["column_published"], labels["column_id"]]


def article_table(archive: Archive, query: str, language: str, offset: int = 0,
                  limit: int = LISTED) -> tuple[list[list[str]], str, int, int]:
    """A page of the articles matching `query`: up to `limit` table rows from `offset` (the last
    page when the list has shrunk below it), the table's caption, the offset shown and how many
    match. The caption says how many there are ("90 artikel") or which are shown ("Menampilkan
    501–1,000 dari 4,140 artikel; cari untuk mempersempit"). Title, outlet and date (as the
    page's language writes it: "11 Juli 2023", which a phone's narrow column wraps between
    words, not inside "2023-07-11") first, the id last.

    Example::

        rows, caption, offset, total = article_table(archive, "banjir", "id")
    """
    total, rows = archive.list(query or "", offset, limit)
    if offset and not rows:  # an update or a delete shortened the list under the page shown
        offset = max(total - 1, 0) // limit * limit
        total, rows = archive.list(query or "", offset, limit)
    caption = counted(total, "article", language)
    if total > len(rows):
        shown = f"{offset + 1:,}–{offset + len(rows):,}"
        caption = LABELS[language]["listed_part"].format(shown=shown, articles=caption)
    table = [[row["title"], row["source"] or "", format_date(row["published"], language), row["id"]] for row in rows]
    return table, caption, offset, total


def article_list(archive: Archive, query: str, language: str, offset: int = 0) -> tuple:
    """The article list's updates: the table (`article_table`'s rows, caption, the language's
    headers), the row of ‹ and › (shown when one page does not hold them all), each button, and
    the offset shown; in `IndexTab.listing`'s order."""
    rows, caption, offset, total = article_table(archive, query, language, offset)
    labels = LABELS[language]
    return (gr.update(value=rows, label=caption, headers=headers(language)), gr.update(visible=total > LISTED),
            gr.update(value=labels["previous_page"], interactive=offset > 0),
            gr.update(value=labels["next_page"], interactive=offset + LISTED < total), offset)


def refusal(error: WriteRefused | ArticleError | ArticleNotFound, language: str, subject: str = "") -> str:
    """A refused write as one line in the page's language: "**Ditolak** subject: why" (article
    errors keep their reason and hint, and the line of the file they concern: "subject:3")."""
    labels = LABELS[language]
    if isinstance(error, ArticleError) and error.line and subject:
        subject = f"{subject}:{error.line}"
    if isinstance(error, WriteRefused):
        why = labels["wrong_token"] if error.configured else labels["writes_disabled"]
    elif isinstance(error, ArticleNotFound):
        why = labels["already_deleted" if error.removed else "not_found"]
    else:
        why = ". ".join(literal(part) for part in error.text(language))
    return f"**{labels['refused_status']}** {literal(subject)}: {why}" if subject else f"**{labels['refused_status']}**: {why}"


def wire_chat(assistant: Assistant, chat: ChatTab, turns: gr.State, language: gr.State) -> None:
    """Send (also Enter, an example or a follow-up), Retry, Undo, editing a question in the chat, and the
    chat's own clear button;
    the chat event is callable as /chat."""
    def article_of(article_id: str):  # the live generation's store: an index update replaces it
        return assistant.retriever.store.article(article_id)

    suggestions = [chat.follow_up_label, *chat.follow_ups]  # the heading, then the buttons
    hidden = [gr.update(visible=False)] * len(suggestions)
    # Retry and Undo wait while an answer comes (each would act on the conversation before it)
    outputs = [chat.chatbot, chat.sources_panel, chat.question, turns, chat.filter_error, chat.filters, *suggestions,
               chat.retry, chat.undo, chat.unsent, chat.answering]
    busy, ready, same = [gr.update(interactive=False)] * 2, [gr.update(interactive=True)] * 2, [gr.skip()] * 2
    undo_outputs = [chat.chatbot, chat.sources_panel, chat.unsent, turns, *suggestions]
    # nothing to ask: the chat as it was, no answer coming, and what ASKING_JS shut open again
    nothing = [gr.skip()] * (len(outputs) - 4) + [*ready, gr.skip(), False]

    def respond(message: str, conversation: list[Turn], since: str, until: str, outlets: list[str], k: float,
                mode: str, language: str, typed: bool = True) -> Iterator[list]:
        """Outputs: chat, sources panel, question box, conversation, filter error, filters, follow-ups, Retry,
        Undo, the unsent question, whether an answer is coming. `typed`: the question is the box's (Enter,
        Send, or Retry of a failed question the box holds as it was put back), so the box empties; a
        suggested follow-up, another Retry or an edit leaves what the box holds."""
        message = (message or "").strip()[:MAX_QUESTION_CHARS]  # the box stops typing there; a client may not
        if not message:
            yield nothing
            return
        filters, bad = parse_filters(since, until, outlets)
        if filters is None:  # a user's mistake: said next to the field, the chat left as it was
            error = gr.update(value=LABELS[language]["bad_date"].format(value=literal(bad)), visible=True)
            yield [gr.skip()] * 4 + [error, gr.update(open=True)] + nothing[6:]
            return
        shown = chat_messages(conversation) + [{"role": "user", "content": literal(message)}, {"role": "assistant", "content": ""}]
        llm = assistant.settings.llm if mode == "llm" else False
        # the question shows in the chat at once; a typed question leaves the box, so that what is typed while
        # the answer comes stays (the chat's values are plain lists: /chat in the HTTP API returns them)
        yield [shown, gr.skip(), "" if typed else gr.skip(), gr.skip(), gr.update(visible=False), gr.skip(), *hidden,
               *busy, "", True]
        try:
            for item in assistant.stream(message, history_of(conversation), filters, int(k), llm):
                if isinstance(item, Answer):
                    conversation = [*conversation, Turn(message, item, uuid.uuid4().hex[:12])]
                    panel = render_sources(conversation, article_of, language)
                    yield [chat_messages(conversation), panel, gr.skip(), conversation,
                           gr.skip(), gr.skip(), *follow_up_buttons(conversation, language), *ready, gr.skip(), False]
                else:
                    shown[-1] = {"role": "assistant", "content": shown[-1]["content"] + literal(item)}
                    yield [shown, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), *hidden, *same, gr.skip(), gr.skip()]
        except Exception:  # our failure, not the user's: said in the chat, the question kept to ask again
            _log.exception("answering a question from the page failed")
            shown[-1] = {"role": "assistant", "content": LABELS[language]["server_error"]}
            try:
                panel = render_sources(conversation, article_of, language)
            except Exception:  # the store itself failed: the panel is left as it was, the chat still says so
                _log.exception("the sources of the conversation kept could not be shown")
                panel = gr.skip()
            # the conversation as asked from (an edit or Retry asks from an earlier turn): the turns after it are
            # gone, and their sources; the question goes back in the box unless something is typed there (UNSENT_JS)
            yield [shown, panel, gr.skip(), conversation, gr.update(visible=False),
                   gr.skip(), *hidden, *ready, message, False]

    def follow_up_buttons(conversation: list[Turn], language: str) -> list:
        """The heading and the buttons of the follow-ups suggested after the conversation's last answer."""
        answer = conversation[-1].answer if conversation else None
        article = article_of(answer.citations[0].article_id) if answer and answer.citations else None
        asked = " ".join(turn.question for turn in conversation)
        questions = suggest_follow_ups(answer, article.text, asked, FOLLOW_UPS) if article else []
        if not questions:
            return hidden
        heading = gr.update(value=LABELS[language]["follow_ups"], visible=True)
        return [heading] + [gr.update(value=q, visible=True) for q in questions] + hidden[len(questions) + 1:]

    def retry(conversation: list[Turn], shown: list[dict], box: str, *rest) -> Iterator[list]:
        """The question of a failed answer the chat shows, asked again (out of the box too, when
        the box holds it as it was put back); else the last question, its answer replaced."""
        failed = failed_question(shown, conversation)
        if failed:
            yield from respond(failed, conversation, *rest, typed=(box or "").strip() == failed)
        elif conversation:
            yield from respond(conversation[-1].question, conversation[:-1], *rest, typed=False)
        else:
            yield nothing

    def edit(conversation: list[Turn], since: str, until: str, outlets: list[str], k: float, mode: str, language: str,
             event: gr.EditData) -> Iterator[list]:
        """A question edited in the chat: the conversation from that question on is asked again (the
        question of a failed answer, shown after the conversation's last turn, too)."""
        turn = (event.index if isinstance(event.index, int) else event.index[0]) // 2
        message = typed_text(event.value).strip()
        if turn > len(conversation) or not message:  # nothing left to ask: show the conversation as it was
            yield [chat_messages(conversation)] + nothing[1:]
            return
        yield from respond(message, conversation[:turn], since, until, outlets, k, mode, language, typed=False)

    def ask_suggested(question: str, conversation: list[Turn], *rest) -> Iterator[list]:
        yield from respond(question, conversation, *rest, typed=False)

    def undo(conversation: list[Turn], shown: list[dict], language: str) -> Iterator[list]:
        """The last exchange the chat shows taken back: a failed answer's, else the last turn. Its
        question goes back in the box (UNSENT_JS: not over a question typed there), with the
        suggestions of the answer now last (they were hidden with the one undone)."""
        failed = failed_question(shown, conversation)
        if not failed and not conversation:
            yield [gr.skip()] * len(undo_outputs)
            return
        kept = conversation if failed else conversation[:-1]
        yield [gr.skip(), gr.skip(), ""] + [gr.skip()] * (len(undo_outputs) - 3)  # so that the same question fills the box again
        yield [chat_messages(kept), render_sources(kept, article_of, language), failed or conversation[-1].question, kept,
               *follow_up_buttons(kept, language)]

    filters = [chat.since, chat.until, chat.sources, chat.k, chat.mode, language]
    answering = {"concurrency_id": "answers"}  # one limit for every way of asking (RAG_UI_CONCURRENCY)
    # a question waiting its turn (more answers asked at once than RAG_UI_CONCURRENCY) shuts Retry, Undo and
    # editing at once, in the browser: the answer's first step does only when it starts. (Set up before the
    # answers: the page runs a trigger's steps in that order, and a step after an answer waited for it.)
    asking = [chat.question.submit, chat.send.click, chat.retry.click, chat.chatbot.edit, *(b.click for b in chat.follow_ups)]
    gr.on(asking, None, None, [chat.retry, chat.undo, chat.answering], js=ASKING_JS, queue=False, trigger_mode="multiple")
    # Enter and Send are one event, so that a question sent while an answer comes is asked after it
    # ("once", Gradio's default, dropped it without a word; two events would answer both at once)
    gr.on([chat.question.submit, chat.send.click], respond, [chat.question, turns, *filters], outputs, api_name="chat",
          trigger_mode="always_last", **answering)
    for button in chat.follow_ups:
        button.click(ask_suggested, [button, turns, *filters], outputs, api_visibility="private", **answering)
    chat.retry.click(retry, [turns, chat.chatbot, chat.question, *filters], outputs, api_visibility="private", **answering)
    chat.undo.click(undo, [turns, chat.chatbot, language], undo_outputs, api_visibility="private")
    chat.chatbot.edit(edit, [turns, *filters], outputs, api_visibility="private", **answering)
    # while an answer comes no question in the chat can be edited: the edit would be answered beside it. (Set
    # by the answer, not at the trigger: a step on the same trigger ran only when a waiting answer started.)
    chat.answering.change(lambda on: chat_editing(not on), chat.answering, chat.chatbot, queue=False,
                          show_progress="hidden", api_visibility="private")
    chat.chatbot.clear(lambda lang: [render_sources([], article_of, lang), [], *hidden], language,
                       [chat.sources_panel, turns, *suggestions], api_visibility="private")
    chat.question.change(None, chat.question, None, js=COUNTER_JS)  # in the browser: no round trip per key
    chat.unsent.change(None, [chat.question, chat.unsent], chat.question, js=UNSENT_JS)
    # an example fills the box: bring it into sight (on a phone the examples are under the sources, screens below it)
    chat.examples.click(None, None, None, js="() => document.querySelector('#question textarea').scrollIntoView({block: 'center'})")
    chat.period.input(period_dates, chat.period, [chat.since, chat.until], api_visibility="private")
    fields = [chat.since, chat.until, chat.sources, language]
    for field in (chat.since, chat.until):  # typed, a quick range, or a chip removed: one round trip a change
        field.change(dates_changed, fields, [chat.active, chat.period, chat.filter_error], api_visibility="private")
    chat.sources.change(active_filters, fields, chat.active, api_visibility="private")
    chat.active.input(remove_filters, [chat.active, chat.since, chat.until, chat.sources],
                      [chat.since, chat.until, chat.sources], api_visibility="private")


def active_filters(since: str, until: str, outlets: list[str] | None, language: str) -> dict:
    """The filters in force as ticked chips above the chat (hidden when there are none)."""
    labels = LABELS[language]
    chips = [(f"{labels['since_chip']} {since.strip()}", "since")] if (since or "").strip() else []
    chips += [(f"{labels['until_chip']} {until.strip()}", "until")] if (until or "").strip() else []
    chips += [(outlet, f"outlet:{outlet}") for outlet in outlets or []]
    return gr.update(choices=chips, value=[value for _, value in chips], visible=bool(chips), label=labels["active_filters"])


def dates_changed(since: str, until: str, outlets: list[str] | None, language: str) -> tuple:
    """After a date changed: the chips, the quick range the dates are (`period_of`), and the
    date error: hidden once the dates are dates; while one is not, the error (shown only after
    Send) names it as it is now, so that a reply to an earlier keystroke cannot hide it. (A reply
    to a keystroke that left the dates valid, arriving after Send's error, still hides it: the
    window is narrowed, not closed.)"""
    bad = parse_filters(since, until, outlets)[1]
    error = (gr.update(visible=False) if bad is None else
             gr.update(value=LABELS[language]["bad_date"].format(value=literal(bad))))
    return active_filters(since, until, outlets, language), period_of(since, until), error


def remove_filters(kept: list[str], since: str, until: str, outlets: list[str] | None) -> tuple:
    """Clear the filters whose chip was unticked."""
    return ("" if "since" not in kept else since, "" if "until" not in kept else until,
            [o for o in outlets or [] if f"outlet:{o}" in kept])


def period_of(since: str, until: str) -> str | None:
    """The quick range the dates make ("all_time" when both are empty), None for other dates
    (typed ones: the radio then shows no range, not "All").

    Example::

        period_of("", "")              # 'all_time'
        period_of("2023-01-01", "")    # None
    """
    dates = ((since or "").strip(), (until or "").strip())
    return next((period for period in PERIODS if period_dates(period) == dates), None)


def period_dates(period: str) -> tuple[str, str]:
    """(since, until) for a quick range ending today; both empty for all time."""
    days = PERIODS.get(period)
    if days is None:
        return "", ""
    today = dt.date.today()
    return (today - dt.timedelta(days=days)).isoformat(), today.isoformat()


def update_report(job: UpdateJob, language: str) -> str:
    """A finished update in words: what changed, then each problem on its own line."""
    labels = LABELS[language]
    if job.state != "done" or job.report is None:
        return f"**{labels['failed_status']}**: {literal(job.error or '')}"
    report = job.report
    text = labels["update_done"].format(seconds=report.seconds, added=counted(report.added, "new article", language),
                                        updated=report.updated, removed=report.removed, unchanged=report.unchanged,
                                        failed=report.failed, embedded=counted(report.chunks_embedded, "chunk", language),
                                        reused=report.chunks_reused)
    if not report.generation:
        text += " " + labels["index_unchanged"]
    return text + "".join(f"\n- **{labels['problem']}**: {literal(p.text(language))}" for p in job.problems)


def auto_status(updater: IndexUpdater, language: str) -> str:
    """What updates the index by itself (watch mode, the fetch schedule) and how its last update went."""
    if not updater.automatic:
        return ""
    labels = LABELS[language]
    what = "; ".join(labels[f"auto_{name}"] for name in sorted(updater.automatic, reverse=True))
    text = labels["auto_on"].format(what=what)
    job = updater.last_automatic
    if job is None:
        return f"{text} {labels['auto_none']}"
    when = time.strftime("%H:%M:%S", time.localtime(job.finished_at or job.started_at))
    result = labels["auto_running"] if job.state == "running" else update_report(job, language)
    note = f" _{literal(job.note)}_" if job.note else ""
    return f"{text}  \n{labels['auto_last'].format(time=when, trigger=labels['trigger_' + job.trigger])}{note} {result}"


def index_counts(assistant: Assistant, language: str) -> tuple[str, dict]:
    """The stats and the outlet filter's choices of the live index."""
    stats = index_stats(assistant, language)  # opens the newest generation
    return stats, gr.update(choices=assistant.retriever.store.sources())


def index_views(assistant: Assistant, archive: Archive, language: str, query: str, offset: int = 0) -> tuple:
    """`index_counts` and the article list (those matching `query`, the page from `offset`): at
    page load and after an automatic update."""
    return *index_counts(assistant, language), *article_list(archive, query, language, offset)


def wire_index(assistant: Assistant, archive: Archive, index: IndexTab, outlets: gr.Dropdown, language: gr.State) -> None:
    """Upload, update and delete (each needs the token: /upload_articles, /update_index,
    /delete_article), the article search and the article list's pages."""
    def upload(files: list[str] | None, token: str, language: str) -> tuple[str, None]:
        labels = LABELS[language]
        try:
            archive.authorize(token)  # before reading the files
        except WriteRefused as error:
            return refusal(error, language), None
        lines = []
        for path in files or []:
            name = Path(path).name
            try:
                saved, articles = archive.save_file(name, Path(path).read_bytes(), token)
                lines.append(f"**{labels['saved_status']}** {literal(saved.name)}: {labels['saved'].format(articles=counted(len(articles), 'article', language))}")
            except ArticleError as error:
                lines.append(refusal(error, language, name))
        return "\n".join(f"- {line}" for line in lines), None  # the next upload starts afresh

    def update(token: str, language: str, progress: gr.Progress = gr.Progress()) -> tuple[str, str, dict]:
        try:
            job = archive.start_update(token)
        except WriteRefused as error:
            return refusal(error, language), index_stats(assistant, language), gr.skip()
        while job.state == "running":
            progress((job.done, job.total) if job.total else 0.0, desc=LABELS[language]["updating"])
            time.sleep(0.3)
        return update_report(job, language), *index_counts(assistant, language)

    def ask_to_delete(article_id: str, language: str) -> tuple[dict, str, str]:
        article_id = (article_id or "").strip()
        if not article_id:
            return gr.update(visible=False), "", LABELS[language]["delete_pick"]
        try:
            title = archive.removable(article_id).title
        except ArticleNotFound as error:
            return gr.update(visible=False), "", refusal(error, language, article_id)
        question = LABELS[language]["confirm_delete"].format(title=literal(title), id=literal(article_id))
        return gr.update(visible=True), question, ""

    def delete(article_id: str, token: str, language: str) -> tuple[str, dict]:
        labels = LABELS[language]
        try:
            article = archive.delete((article_id or "").strip(), token)
        except (WriteRefused, ArticleError, ArticleNotFound) as error:
            return refusal(error, language, article_id or ""), gr.update(visible=False)
        return f"**{labels['deleted_status']}** {literal(article.id)}: {labels['deleted']}", gr.update(visible=False)

    def pick(event: gr.SelectData) -> str:
        return str(event.row_value[-1])  # the id column

    def rows(query: str, language: str, offset: int = 0) -> tuple:
        return article_list(archive, query, language, offset)

    def turn_page(step: int):
        def turn(query: str, language: str, offset: int) -> tuple:
            return article_list(archive, query, language, max(offset + step, 0))
        return turn

    index.files.upload(upload, [index.files, index.token, language], [index.upload_report, index.files], api_name="upload_articles")
    # /update_index takes the token alone (gradio_client callers); the list is then shown with its search
    index.update.click(update, [index.token, language], [index.update_report, index.stats, outlets],
                       api_name="update_index", concurrency_limit=1).then(
        rows, [index.article_query, language, index.offset], index.listing, api_visibility="private")
    index.article_query.change(rows, [index.article_query, language], index.listing, api_visibility="private")  # from page 1
    for button, step in ((index.previous, -LISTED), (index.next, LISTED)):
        button.click(turn_page(step), [index.article_query, language, index.offset], index.listing, api_visibility="private")
    index.articles.select(pick, None, index.delete_id, api_visibility="private")
    index.delete.click(ask_to_delete, [index.delete_id, language], [index.confirm_row, index.confirm_text, index.delete_report],
                       api_visibility="private")
    index.confirm.click(delete, [index.delete_id, index.token, language], [index.delete_report, index.confirm_row],
                        api_name="delete_article")
    index.cancel.click(lambda: gr.update(visible=False), None, index.confirm_row, api_visibility="private")
    if archive.updater.automatic:  # watch mode or the fetch schedule: show their updates as they happen
        seen = gr.State("")

        def tick(language: str, seen_job: str, query: str, offset: int) -> tuple:
            job = archive.updater.last_automatic
            key = f"{job.id}:{job.state}" if job else ""
            if key == seen_job:
                return (gr.skip(),) * (4 + len(index.listing))
            return auto_status(archive.updater, language), *index_views(assistant, archive, language, query, offset), key

        gr.Timer(2).tick(tick, [language, seen, index.article_query, index.offset],
                         [index.auto_report, index.stats, outlets, *index.listing, seen],
                         api_visibility="private", show_progress="hidden")


def page_options() -> dict:
    """What `launch` and `gr.mount_gradio_app` need besides the page: its style and script.

    Example::

        gr.mount_gradio_app(api, build_ui(assistant, archive), path="/", **page_options())
    """
    return {"css": CSS, "head": HEAD, "theme": THEME}
