"""The Gradio web app: one page with a chat tab (`rag.ui_chat`: every answer keeps its cited
sources; filters), a search tab (`rag.ui_search`: the articles for some words, best first) and
an index tab (`rag.ui_index`: counts, upload, update, the article list, delete), in Indonesian
or English. A thin shell over `rag.answer.Assistant` (answers) and
`rag.articles.Archive` (listing and the token-checked writes); what it shows is rendered by
`rag.ui_render`, in the words of `rag.ui_text`. This module lays the page out, switches its
language, and gives it its style and script.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import gradio as gr

from rag.answer import Assistant
from rag.articles import Archive
from rag.corpus_files import EDITABLE_FIELDS
from rag.ui_chat import KEPT_FOR, active_filters, chat_tab, modes, periods, wire_chat
from rag.ui_conversations import STORAGE_KEY, browser_key
from rag.ui_index import article_list, auto_status, index_stats, index_tab, index_views, wire_index
from rag.ui_render import Turn, render_sources
from rag.ui_search import relabel_search, search_again, search_tab, wire_search
from rag.ui_text import GRADIO_TOOLTIPS, LABELS, LANGUAGES

_log = logging.getLogger(__name__)


# System fonts only: Gradio's default theme asks a font CDN, which an offline newsroom cannot reach.
# The primary buttons' white text on a darker orange than Gradio's (2.8:1 there; 5.2:1 here, WCAG AA).
THEME = gr.themes.Default(font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
                          font_mono=["ui-monospace", "Consolas", "monospace"]).set(
    button_primary_background_fill="#c2410c", button_primary_background_fill_hover="#9a3412",
    button_primary_background_fill_dark="#c2410c", button_primary_background_fill_hover_dark="#9a3412",
    button_primary_text_color="#ffffff", button_primary_text_color_dark="#ffffff")

PHONE_COLUMNS = (46, 24, 30)  # the article table's widths on a phone, in percent: title, outlet, date ("21 November 2022")
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
#chat button.rag-copied {position: relative;}
#chat button.rag-copied svg {visibility: hidden;}
#chat button.rag-copied::after {content: "✓"; position: absolute; inset: 0; display: grid; place-items: center;}
.card-foot button.copy-quote {border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 0 6px;
  background: var(--button-secondary-background-fill); cursor: pointer; font-size: 1em; font-weight: normal;}
.source-card mark, .article-view mark {background: #ffe58a; color: inherit; padding: 0 2px;}
.article-view {white-space: pre-wrap; max-height: 420px; overflow-y: auto; border-left: 3px solid #f0b400; padding-left: 10px;}
mark.focused {outline: 2px solid #d48806;}
#chat a[href^="#cite-"], .source-card a[href^="#cite-"] {color: var(--link-text-color, #2563eb); font-weight: 600; text-decoration: underline;}
#buttons button, #follow-ups button {min-width: 0;}
#conversations-changed {display: none !important;}  /* clicked by the page only (OTHER_TAB_JS) */
#conversation-row {flex-wrap: nowrap;}  /* the list and its button on one line, on a phone too */
#conversation-row > #new-conversation {flex: none; width: auto; min-width: 0; white-space: nowrap;}
#conversations input {text-overflow: ellipsis; padding-right: 1.6em;}  /* a long title ends in "…" before the arrow */
#follow-ups-label p {margin: 0; font-size: 0.85em; font-weight: 600;}
#question-count {text-align: right; font-size: 0.8em; color: var(--body-text-color-subdued);}
#filter-error p {color: var(--error-text-color, #b91c1c); font-weight: 600;}
@media (max-width: 640px) {
  #sources {max-height: none; overflow-y: visible !important;}
  /* the article table: title, outlet, date; the id column (a file name) is for the desktop and the delete box */
  #articles th:nth-child(4), #articles td:nth-child(4), #articles .virtual-row > :nth-child(4) {display: none;}
  /* the headings and the rows' cells share the hidden column's width in the same proportions
     (PHONE_COLUMNS), so that cells stay under their headings */
  PHONE_COLUMNS
  #articles th, #articles .body-cell, #articles .body-cell * {word-break: normal !important; overflow-wrap: normal !important; hyphens: auto;}
  #articles .body-cell, #articles th {font-size: 0.85em;}  /* "21 November" fits its column */
  #articles .header-table {table-layout: fixed !important; width: 100% !important;}  /* headings over their cells */
  .gradio-container {padding-left: 6px !important; padding-right: 6px !important;}
}
""".replace("PHONE_COLUMNS", "\n  ".join(
    f"#articles th:nth-child({n}) {{width: {width}% !important; min-width: 0 !important; max-width: none !important;}} "
    f"#articles .virtual-row > :nth-child({n}) {{flex: 0 0 {width}% !important;}}"  # Gradio sets both in pixels, for 4 columns
    for n, width in enumerate(PHONE_COLUMNS, 1)))


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
# article n (fetched first when it is an earlier answer's), and scrolls to the cited sentence;
# "Copy quote" puts the citation line on the clipboard; a search result's article opens at the
# sentence that matched.
# Another tab of this browser stored the conversations (rag.ui_conversations): this tab's list shows them at once.
OTHER_TAB_JS = f"""
<script>
window.addEventListener("storage", (event) => {{
  if (event.key === {json.dumps(STORAGE_KEY)}) document.querySelector("#conversations-changed")?.click();
}});
</script>
"""


# The chat's copy buttons (Gradio's) copy a message's markdown: backslashes, entities and links. They
# are caught on their way down and copy the text instead: a reply as `rag ask` prints it, with its
# sources and the offsets of each quote (rag.ui_render._copy_text), a question as typed, the whole
# conversation numbered as the page downloads it; a tick shows for a second, as Gradio's does.
# `ragCopy` also serves "Copy quote"; without navigator.clipboard (a page served over plain http
# to another machine) it copies through a selected textarea.
COPY_JS = f"""
<script>
window.ragCopy = (text, done) => {{
  if (navigator.clipboard && window.isSecureContext) {{ navigator.clipboard.writeText(text).then(done); return; }}
  const area = Object.assign(document.createElement("textarea"), {{value: text}});
  document.body.appendChild(area); area.select(); document.execCommand("copy"); area.remove(); done();
}};
const ragCopyMessage = {json.dumps(["Copy message", "Copied message", GRADIO_TOOLTIPS["Copy message"], GRADIO_TOOLTIPS["Copied message"]])};
const ragCopyAll = {json.dumps(["Copy conversation", "Copied conversation", GRADIO_TOOLTIPS["Copy conversation"]])};
const ragMessageText = (row) => {{
  const kept = row.querySelector(".copy-text");
  return kept ? kept.title : (row.querySelector(".message-content")?.innerText ?? "").trim();
}};
window.addEventListener("click", (event) => {{
  const button = event.target.closest?.("#chat button");
  const label = button?.getAttribute("aria-label");
  let text = null;
  if (ragCopyMessage.includes(label) && button.closest(".message-buttons")) {{
    let row = button.closest(".message-buttons").previousElementSibling;
    while (row && !row.classList.contains("message-row")) row = row.previousElementSibling;
    if (row) text = ragMessageText(row);
  }} else if (ragCopyAll.includes(label)) {{
    let asked = 0;
    text = Array.from(document.querySelectorAll("#chat .message-row"), (row) =>
      row.querySelector("[data-testid='user']") ? `${{++asked}}. ${{ragMessageText(row)}}` : ragMessageText(row)).join("\\n\\n");
  }}
  if (text === null) return;
  event.stopImmediatePropagation();  // Gradio's copy of the markdown does not run
  window.ragCopy(text, () => {{ button.classList.add("rag-copied"); setTimeout(() => button.classList.remove("rag-copied"), 1000); }});
}}, true);
</script>
"""


# A question sent (Enter, Send, a suggested follow-up) brings the chat to its end: Gradio follows new
# messages only when the chat is already there, so an answer asked after scrolling up to an earlier
# citation came out of sight.
SEND_JS = """
<script>
const ragToEnd = () => setTimeout(() => {
  const chat = document.querySelector("#chat .bubble-wrap");
  if (chat) chat.scrollTop = chat.scrollHeight;
}, 50);
document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && event.target.closest?.("#question")) ragToEnd();
}, true);
document.addEventListener("click", (event) => { if (event.target.closest?.("#send, #follow-ups button")) ragToEnd(); }, true);
</script>
"""


HEAD = LANGUAGE_HEAD + OTHER_TAB_JS + COPY_JS + SEND_JS + """
<script>
// An earlier answer's article comes when its card is opened (rag.ui_render.article_view): fetched once,
// its text set as text (never as HTML) and the cited sentences marked at the offsets the server gave,
// counted in characters as Python counts them (code points, not JavaScript's UTF-16 units).
window.ragLoadArticle = (details) => {
  const view = details && details.querySelector(".article-view[data-article]");
  if (!view) return Promise.resolve();
  view.ragLoading = view.ragLoading || fetch(new URL("api/articles/" + encodeURIComponent(view.dataset.article), document.baseURI))
    .then((response) => { if (!response.ok) throw new Error(response.status); return response.json(); })
    .then((article) => {
      const text = Array.from(article.text), parts = [];
      let cursor = 0;
      for (const [start, end, id] of JSON.parse(view.dataset.marks)) {
        if (start < cursor || end > text.length) continue;
        const mark = Object.assign(document.createElement("mark"), {id, textContent: text.slice(start, end).join("")});
        parts.push(text.slice(cursor, start).join(""), mark);
        cursor = end;
      }
      parts.push(text.slice(cursor).join(""));
      view.replaceChildren(...parts);
    })
    .catch(() => { view.ragLoading = null; view.textContent = view.dataset.failed; });
  return view.ragLoading;
};
document.addEventListener("click", async (event) => {
  const copy = event.target.closest("button.copy-quote");
  if (copy) {
    window.ragCopy(copy.dataset.citation, () => { copy.textContent = copy.dataset.copied; });
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
  await window.ragLoadArticle(details);
  document.querySelectorAll("mark.focused").forEach((m) => m.classList.remove("focused"));
  const mark = document.getElementById("cite-" + key) || document.getElementById("cite-" + t + "-" + n);
  if (mark) { mark.classList.add("focused"); mark.scrollIntoView({block: "center"}); }
  else { document.getElementById("source-" + t + "-" + n).scrollIntoView({block: "start"}); }
});
// An article opened: an earlier answer's is fetched; a search result's opens at the sentence that matched.
// (toggle does not bubble: caught on its way down.)
document.addEventListener("toggle", (event) => {
  const details = event.target;
  if (!details.open || !details.closest) return;
  if (details.id.startsWith("article-")) window.ragLoadArticle(details);
  if (!details.closest(".search-hit")) return;
  const mark = details.querySelector(".article-view mark");
  if (mark) mark.scrollIntoView({block: "nearest"});
}, true);
</script>
"""


def build_ui(assistant: Assistant, archive: Archive) -> gr.Blocks:
    """The whole page: a chat tab and an index tab. Events with an api_name are callable through
    gradio_client; the write events (upload, delete, update) take the token and are refused without it.

    Example::

        page = build_ui(assistant, Archive(settings, assistant.retriever, updater, token="s3cret"))
        page.launch(**page_options())
    """
    labels = LABELS["id"]
    with gr.Blocks(title="Arsip Berita", delete_cache=(KEPT_FOR, KEPT_FOR)) as page:  # uploads and downloads, swept daily
        language = gr.State("id")
        turns = gr.State([])
        # the conversation, kept in this browser (encrypted with the index folder's key: a restart reads it back)
        saved = gr.BrowserState([], storage_key=STORAGE_KEY, secret=browser_key(assistant.settings.index_dir))
        with gr.Row():
            title = gr.Markdown(labels["title"])
            language_choice = gr.Radio(list(LANGUAGES), value="Bahasa Indonesia", label=labels["language"], scale=0,
                                       elem_id="language")
        with gr.Tab(labels["chat_tab"], elem_id="chat-tab") as chat_tab_:
            chat = chat_tab(assistant, labels)
        with gr.Tab(labels["search_tab"], elem_id="search-tab") as search_tab_:
            search = search_tab(assistant.retriever, labels)
        with gr.Tab(labels["index_tab"], elem_id="index-tab") as index_tab_:
            index = index_tab(assistant, archive, labels)
        wire_chat(page, assistant, chat, turns, language, saved)
        wire_search(assistant.retriever, search, language)
        outlet_filters = [chat.sources, search.outlets]
        wire_index(assistant, archive, index, outlet_filters, language)

        def switch(choice: str, conversation: list[Turn], query: str, offset: int, since: str, until: str,
                   outlets: list[str], searched: list) -> list:
            code = LANGUAGES[choice]
            panel = render_sources(conversation, assistant.retriever.store.article, code)
            return [code, *relabel(LABELS[code], archive.writable, assistant.settings.llm), *relabel_search(LABELS[code]),
                    active_filters(since, until, outlets, code), panel, *search_again(assistant.retriever, searched, code),
                    index_stats(assistant, code), auto_status(archive.updater, code),
                    *article_list(archive, query, code, offset), "", "", "", "",  # old reports go,
                    gr.update(visible=False), gr.update(visible=False)]  # as do a date error and a pending delete

        components = [title, language_choice, chat_tab_, search_tab_, index_tab_, chat.chatbot, chat.question, chat.send, chat.retry,
                      chat.undo, chat.download, chat.examples, chat.filters, chat.period, chat.since, chat.until, chat.sources, chat.k,
                      chat.mode, index.access, index.token, index.files, index.replace, index.update, index.article_query,
                      index.delete_id, index.delete, index.confirm, index.cancel, chat.follow_up_label, chat.conversations,
                      chat.new, index.edit, *index.edit_fields, index.edit_save]
        language_choice.change(switch, [language_choice, turns, index.article_query, index.offset, chat.since, chat.until,
                                        chat.sources, search.searched],
                               [language, *components, *search.labelled, chat.active, chat.sources_panel, *search.outputs, index.stats,
                                index.auto_report, *index.listing,
                                index.upload_report, index.update_report, index.delete_report, index.edit_report, chat.filter_error,
                                index.confirm_row],
                               api_visibility="private")
        language_choice.change(None, language_choice, None, js=SAVE_LANGUAGE_JS)
        page.load(None, None, language_choice, js=LOAD_LANGUAGE_JS)
        # built once when the app started: a page opened after an update shows the index as it is now
        page.load(lambda code, query: index_views(assistant, archive, code, query, len(outlet_filters)),
                  [language, index.article_query], [index.stats, *outlet_filters, *index.listing], api_visibility="private")
    return page


def relabel(labels: dict[str, str], writable: bool, llm: str | None) -> list:
    """Updates for the components `build_ui` lists, in that order, in another language."""
    return [gr.update(value=labels["title"]), gr.update(label=labels["language"]), gr.update(label=labels["chat_tab"]),
            gr.update(label=labels["search_tab"]), gr.update(label=labels["index_tab"]), gr.update(label=labels["chat"]),
            gr.update(label=labels["question"], placeholder=labels["placeholder"]),
            gr.update(value=labels["send"]), gr.update(value=labels["retry"]), gr.update(value=labels["undo"]), gr.update(label=labels["download"]),
            gr.update(label=labels["examples"]), gr.update(label=labels["filters"]),
            gr.update(label=labels["period"], choices=periods(labels)), gr.update(label=labels["since"]),
            gr.update(label=labels["until"]), gr.update(label=labels["sources"]), gr.update(label=labels["k"]),
            gr.update(label=labels["mode"], choices=modes(labels, llm)),
            gr.update(value=labels["writes_enabled" if writable else "writes_disabled"]),
            gr.update(label=labels["token"]), gr.update(label=labels["upload"]), gr.update(label=labels["replace"]),
            gr.update(value=labels["update"]),
            gr.update(label=labels["search_articles"]), gr.update(label=labels["delete_id"]),
            gr.update(value=labels["delete"]), gr.update(value=labels["confirm"]), gr.update(value=labels["cancel"]),
            gr.update(value=labels["follow_ups"]), gr.update(label=labels["conversations"]),
            gr.update(value=labels["new_conversation"]), gr.update(label=labels["edit_fields"]),
            *[gr.update(label=labels[f"edit_{field}"]) for field in EDITABLE_FIELDS], gr.update(value=labels["edit_save"])]


def page_options() -> dict:
    """What `launch` and `gr.mount_gradio_app` need besides the page: its style and script.

    Example::

        gr.mount_gradio_app(api, build_ui(assistant, archive), path="/", **page_options())
    """
    return {"css": CSS, "head": HEAD, "theme": THEME}
