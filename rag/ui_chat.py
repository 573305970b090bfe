"""The chat tab of the web page: the question box and its buttons (Send, Retry, Undo), the
suggested follow-ups, the sources panel, examples and filters, and what each of them does.

The conversation open lives in the session's state (`Turn`: question, answer, answer id; the
others on a `Shelf`, all of them kept in the browser between visits), not in the chat
component: Send, Retry, Undo, a follow-up and the chat's own clear button all change that list,
and the chat and the sources panel are drawn from it. So a follow-up is read with the
questions before it, Retry and Undo work on exactly what was asked, and each answer's `[n]` keeps
opening its own article.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from rag.answer import MAX_QUESTION_CHARS, Answer, Assistant
from rag.followups import suggest_follow_ups
from rag.retriever import Filters
from rag.transcript import conversation_text
from rag.ui_conversations import READ_COPY_JS, Shelf, browser_copy, conversation_choices, merged, restored, seen_here, stored
from rag.ui_render import Turn, literal, render_reply, render_sources, typed_text
from rag.ui_text import EXAMPLES, LABELS

_log = logging.getLogger(__name__)


FOLLOW_UPS = 3  # suggested follow-up buttons under the question box
KEPT_FOR = 86_400  # seconds a file to download (a conversation, search results) stays (the page's file cache is swept as often)
# one folder for every server process (a restarted one sweeps what the one before left), swept hourly
DOWNLOADS = Path(tempfile.gettempdir()) / "rag-downloads"
SWEEP_EVERY = 3_600
_swept = [0.0]  # when this process last swept it
PERIODS = {"all_time": None, "last_7": 7, "last_30": 30, "last_365": 365}


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


def parse_filters(since: str, until: str, sources: list[str] | None, language: str) -> tuple[Filters | None, str | None]:
    """The filters, or (None, what is wrong with them, in the page's `language`): a date that is
    not YYYY-MM-DD, or a period that ends before it starts.

    Example::

        parse_filters("2023-08-01", "2023-01-01", [], "en")[1]
        # 'The period ends (2023-01-01) before it starts (2023-08-01): swap the two dates.'
    """
    dates = []
    for value in (since, until):
        value = (value or "").strip()
        try:
            dates.append(dt.date.fromisoformat(value) if value else None)
        except ValueError:
            return None, LABELS[language]["bad_date"].format(value=literal(value))
    try:
        return Filters(dates[0], dates[1], tuple(sources or ())), None
    except ValueError:  # a period that ends before it starts (`Filters` checks it), said in the page's words
        return None, LABELS[language]["reversed_dates"].format(since=dates[0], until=dates[1])


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


@dataclass
class ChatTab:
    """The chat tab's components."""

    active: gr.CheckboxGroup
    conversations: gr.Dropdown  # the browser's conversations, one open (shown once there is one)
    new: gr.Button  # a new conversation; the one open stays in the list
    others_wrote: gr.Button  # hidden: clicked by the page when another tab stored the conversations (OTHER_TAB_JS)
    shelf: gr.State  # the conversations (`Shelf`)
    current: gr.State  # the id of the one open
    copy: gr.Textbox  # hidden: the browser's copy of them as stored now, read before each change (READ_COPY_JS)
    chatbot: gr.Chatbot
    sources_panel: gr.HTML
    question: gr.Textbox
    unsent: gr.Textbox  # hidden: a question whose answer failed, or the one undone, for the box (UNSENT_JS)
    answering: gr.Checkbox  # hidden: an answer is coming (no question in the chat can be edited meanwhile)
    send: gr.Button
    retry: gr.Button
    undo: gr.Button
    download: gr.DownloadButton  # the conversation as a text file (rag.transcript), once there is one
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


def periods(labels: dict[str, str]) -> list[tuple[str, str]]:
    """The period choices as (label in the page's language, value) pairs."""
    return [(labels[key], key) for key in PERIODS]


def modes(labels: dict[str, str], llm: str | None) -> list[tuple[str, str]]:
    """Answer modes as (label, value): the value stays the same in every language."""
    return [(labels["extractive"], "extractive")] + ([(f"LLM: {llm}", "llm")] if llm else [])


def chat_tab(assistant: Assistant, labels: dict[str, str]) -> ChatTab:
    """The active filters (one click removes one); the chat with the question box, its buttons, the
    suggested follow-ups and the list of conversations under it, beside the sources (on a phone:
    the answer, the box, then the sources); then examples and filters."""
    active = gr.CheckboxGroup(label=labels["active_filters"], visible=False, elem_id="active-filters")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):  # the box under the answer: on a phone both fit one screen
            chatbot = gr.Chatbot(label=labels["chat"], height=480, sanitize_html=True, latex_delimiters=[], elem_id="chat", buttons=["copy", "copy_all"],
                                 editable="user")
            question = gr.Textbox(label=labels["question"], placeholder=labels["placeholder"], elem_id="question",
                                  max_length=MAX_QUESTION_CHARS)
            unsent = gr.Textbox(visible=False)
            answering = gr.Checkbox(False, visible=False)
            with gr.Row(elem_id="buttons"):
                send = gr.Button(labels["send"], variant="primary", elem_id="send", size="sm")
                retry = gr.Button(labels["retry"], elem_id="retry", size="sm")
                undo = gr.Button(labels["undo"], elem_id="undo", size="sm")
                download = gr.DownloadButton(labels["download"], elem_id="download", size="sm", visible=False)
            follow_up_label = gr.Markdown(visible=False, elem_id="follow-ups-label")
            with gr.Row(elem_id="follow-ups"):
                follow_ups = [gr.Button(visible=False, size="sm", elem_classes="follow-up") for _ in range(FOLLOW_UPS)]
            # under the box, not over the chat: on a phone the answer and the box stay on one screen
            with gr.Row(equal_height=True, elem_id="conversation-row"):  # one line: the list and the button
                conversations = gr.Dropdown([], value=None, label=labels["conversations"], show_label=False, container=False,
                                            filterable=False, elem_id="conversations", visible=False, scale=4)
                new = gr.Button(labels["new_conversation"], size="sm", elem_id="new-conversation", visible=False, scale=0)
                others_wrote = gr.Button(elem_id="conversations-changed")  # rendered (a page script clicks it), unseen (CSS)
            shelf, current, copy = gr.State({}), gr.State(""), gr.Textbox(visible=False)
        with gr.Column(scale=2, min_width=300):
            sources_panel = gr.HTML(render_sources([], assistant.retriever.store.article, "id"), elem_id="sources")
    examples = gr.Examples(EXAMPLES, inputs=question, label=labels["examples"]).dataset
    with gr.Accordion(labels["filters"], open=False, elem_id="filters") as filters:
        period = gr.Radio(periods(labels), value="all_time", label=labels["period"], elem_id="period")
        with gr.Row():
            since = gr.Textbox(label=labels["since"], elem_id="since")
            until = gr.Textbox(label=labels["until"], elem_id="until")
        filter_error = gr.Markdown(visible=False, latex_delimiters=[], elem_id="filter-error")
        sources = gr.Dropdown(assistant.retriever.store.sources(), multiselect=True, label=labels["sources"], elem_id="outlets")
        top_k, max_k = assistant.settings.top_k, assistant.settings.max_k  # passages read: up to 20, or RAG_TOP_K when set higher
        k = gr.Slider(1, min(max(20, top_k), max_k), value=min(top_k, max_k), step=1, label=labels["k"])
        choices = modes(labels, assistant.settings.llm)
        mode = gr.Radio(choices, value=choices[0][1], label=labels["mode"])
    return ChatTab(active, conversations, new, others_wrote, shelf, current, copy, chatbot, sources_panel, question, unsent, answering, send, retry, undo, download, follow_up_label, follow_ups, examples, filters, period, since,
                   until, filter_error, sources, k, mode)


def conversation_file(conversation: Sequence[Turn], language: str) -> Path:
    """The conversation as a text file to download (`rag.transcript.conversation_text`), e.g.
    arsip-berita-2026-12-04-1630.txt (`download_file`)."""
    when = dt.datetime.now()
    return download_file(f"{LABELS[language]['kept_file']}-{when:%Y-%m-%d-%H%M}.txt",
                         conversation_text([(turn.question, turn.answer) for turn in conversation], language, when))


def download_file(name: str, text: str) -> Path:
    """`text` as a UTF-8 file called `name` for the page to offer for download, in a folder of its
    own in `DOWNLOADS`; files there older than `KEPT_FOR` are removed (at most every `SWEEP_EVERY`
    seconds), so that a server's disk does not fill with them.

    Example::

        download_file("hasil-banjir.csv", "rank,title\n1,Banjir Demak\n").name   # 'hasil-banjir.csv'
    """
    folder = DOWNLOADS
    folder.mkdir(exist_ok=True)
    if time.time() - _swept[0] > SWEEP_EVERY:  # not at every answer: the folder holds a day of them
        _swept[0] = time.time()
        for old in folder.iterdir():
            with contextlib.suppress(FileNotFoundError):  # another process's sweep may have taken it
                if time.time() - old.stat().st_mtime > KEPT_FOR:
                    shutil.rmtree(old, ignore_errors=True)
    path = Path(tempfile.mkdtemp(dir=folder)) / name
    path.write_text(text, encoding="utf-8")
    return path


def wire_chat(page: gr.Blocks, assistant: Assistant, chat: ChatTab, turns: gr.State, language: gr.State,
              saved: gr.BrowserState) -> None:
    """Send (also Enter, an example or a follow-up), Retry, Undo, editing a question in the chat, and the
    chat's own clear button; the conversation kept in the browser (`saved`) between visits of the
    `page`, and to download; the chat event is callable as /chat."""
    def article_of(article_id: str):  # the live generation's store: an index update replaces it
        return assistant.retriever.store.article(article_id)

    suggestions = [chat.follow_up_label, *chat.follow_ups]  # the heading, then the buttons
    hidden = [gr.update(visible=False)] * len(suggestions)
    # Retry and Undo wait while an answer comes (each would act on the conversation before it)
    outputs = [chat.chatbot, chat.sources_panel, chat.question, turns, chat.filter_error, chat.filters, *suggestions,
               chat.retry, chat.undo, chat.unsent, chat.answering]
    busy, ready, same = [gr.update(interactive=False)] * 2, [gr.update(interactive=True)] * 2, [gr.skip()] * 2
    # Undo and the clear button keep the browser's copy (`saved`) and the file to download in their own
    # outputs: a step after them left a moment in which a reload restored the turn just taken back
    kept_outputs = [chat.download, saved, chat.conversations, chat.new, chat.shelf, chat.current]  # `keep`'s
    undo_outputs = [chat.chatbot, chat.sources_panel, chat.unsent, turns, *suggestions, *kept_outputs]
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
        filters, wrong = parse_filters(since, until, outlets, language)
        if filters is None:  # a user's mistake: said next to the field, the chat left as it was
            error = gr.update(value=wrong, visible=True)
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

    def downloadable(conversation: list[Turn], language: str) -> dict:
        """The conversation to download as it is now, in the page's language; hidden while there is none."""
        return gr.update(value=conversation_file(conversation, language) if conversation else None, visible=bool(conversation))

    def read_copy(copy: str) -> Shelf | None:
        """The conversations in the browser's copy as stored now (`copy`, by READ_COPY_JS)."""
        return browser_copy(copy, saved.secret)

    def keep(conversation: list[Turn], shelf: Shelf, current: str, language: str, there: Shelf | None,
             store: bool = True) -> tuple:
        """After the conversation or the language changed: the file to download, what the browser
        keeps (this change on the browser's copy as stored now, `there`, see `merged`; nothing when not
        `store`), the list of conversations and the New button, the conversations this tab goes on
        from and the id of the one open (`kept_outputs`)."""
        change = merged(shelf, current, conversation, there)
        return (downloadable(conversation, language), stored(change.store, change.current) if store else gr.skip(),
                *listing(change.store, change.current, language), change.seen, change.current)

    def listing(shelf: Shelf, current: str, language: str) -> tuple[dict, dict]:
        """The list of conversations, the one open chosen, and the New button (shown while that one has a question)."""
        choices = conversation_choices(shelf)
        if current not in shelf:  # the new, empty one open: shown as such at the top of the list
            choices.insert(0, (LABELS[language]["empty_conversation"], current))
        return gr.update(choices=choices, value=current, visible=bool(shelf)), gr.update(visible=current in shelf)

    def others_wrote(shelf: Shelf, current: str, language: str, copy: str) -> list:
        """Another tab of this browser stored the conversations: the list shows what it stored at
        once, the one open here as this tab has it (so that its next change is merged against what
        this tab knew, `merged`); nothing is stored (the other tabs would answer in turn)."""
        there = read_copy(copy)
        if there is None:
            return [gr.skip()] * 3
        seen = seen_here(there, current, shelf.get(current, []))
        return [*listing(seen, current, language), seen]

    def shown_conversation(conversation: list[Turn], language: str) -> list:
        """The chat, the sources panel and the follow-ups of `conversation`."""
        return [chat_messages(conversation), render_sources(conversation, article_of, language), *follow_up_buttons(conversation, language)]

    def open_conversation(chosen: str | None, conversation: list[Turn], shelf: Shelf, current: str, language: str,
                          copy: str) -> list:
        """Another conversation of the list, shown as another tab may have left it; the one open stays in the list."""
        change = merged(shelf, current, conversation, read_copy(copy))
        if not chosen or chosen == change.current or chosen not in change.store:  # e.g. cleared in another tab since
            return ([gr.skip()] * (3 + len(suggestions) + 2)  # `switched`: the list as it is, the one open still chosen
                    + [*listing(change.store, change.current, language), change.seen, change.current])
        return [change.store[chosen], *shown_conversation(change.store[chosen], language),
                *keep(change.store[chosen], change.seen, chosen, language, change.store)]

    def new_conversation(conversation: list[Turn], shelf: Shelf, current: str, language: str, copy: str) -> list:
        """An empty chat; the one open stays in the list."""
        change = merged(shelf, current, conversation, read_copy(copy))
        return [[], *shown_conversation([], language), *keep([], change.seen, uuid.uuid4().hex[:12], language, change.store)]

    def undo(conversation: list[Turn], shown: list[dict], shelf: Shelf, current: str, language: str,
             copy: str) -> Iterator[list]:
        """The last exchange the chat shows taken back: a failed answer's, else the last turn. Its
        question goes back in the box (UNSENT_JS: not over a question typed there), with the
        suggestions of the answer now last (they were hidden with the one undone)."""
        failed = failed_question(shown, conversation)
        if not failed and not conversation:
            yield [gr.skip()] * len(undo_outputs)
            return
        left = conversation if failed else conversation[:-1]
        yield [gr.skip(), gr.skip(), ""] + [gr.skip()] * (len(undo_outputs) - 3)  # so that the same question fills the box again
        yield [chat_messages(left), render_sources(left, article_of, language), failed or conversation[-1].question, left,
               *follow_up_buttons(left, language), *keep(left, shelf, current, language, read_copy(copy))]

    filters = [chat.since, chat.until, chat.sources, chat.k, chat.mode, language]
    answering = {"concurrency_id": "answers"}  # one limit for every way of asking (RAG_UI_CONCURRENCY)
    # a question waiting its turn (more answers asked at once than RAG_UI_CONCURRENCY) shuts Retry, Undo and
    # editing at once, in the browser: the answer's first step does only when it starts. (Set up before the
    # answers: the page runs a trigger's steps in that order, and a step after an answer waited for it.)
    asking = [chat.question.submit, chat.send.click, chat.retry.click, chat.chatbot.edit, *(b.click for b in chat.follow_ups)]
    gr.on(asking, None, None, [chat.retry, chat.undo, chat.answering], js=ASKING_JS, queue=False, trigger_mode="multiple")
    # Enter and Send are one event, so that a question sent while an answer comes is asked after it
    # ("once", Gradio's default, dropped it without a word; two events would answer both at once)
    answers = [  # every event that answers a question
        gr.on([chat.question.submit, chat.send.click], respond, [chat.question, turns, *filters], outputs, api_name="chat",
              trigger_mode="always_last", **answering),
        *(button.click(ask_suggested, [button, turns, *filters], outputs, api_visibility="private", **answering)
          for button in chat.follow_ups),
        chat.retry.click(retry, [turns, chat.chatbot, chat.question, *filters], outputs, api_visibility="private", **answering),
        chat.chatbot.edit(edit, [turns, *filters], outputs, api_visibility="private", **answering)]
    # each change of the conversations is made on the browser's copy as stored now (another tab may have written it)
    conversations = {"js": READ_COPY_JS, "api_visibility": "private"}
    chat.undo.click(undo, [turns, chat.chatbot, chat.shelf, chat.current, language, chat.copy], undo_outputs, **conversations)
    # the chat's own clear button: the conversation open is forgotten (the others stay)
    chat.chatbot.clear(lambda lang, shelf, current, copy: [render_sources([], article_of, lang), [], *hidden,
                                                           *keep([], shelf, current, lang, read_copy(copy))],
                       [language, chat.shelf, chat.current, chat.copy], [chat.sources_panel, turns, *suggestions, *kept_outputs],
                       **conversations)
    switched = [turns, chat.chatbot, chat.sources_panel, *suggestions, *kept_outputs]
    # on `blur`, which Gradio's dropdown sends once for a choice by mouse or by keys: it sends `input`
    # twice for one click (on the choice, then on its blur; the second, reading the turns the first
    # set before its id, wrote them under the id opened before), `select` not for a choice by keys
    chat.conversations.blur(open_conversation, [chat.conversations, turns, chat.shelf, chat.current, language, chat.copy],
                             switched, **conversations)
    chat.new.click(new_conversation, [turns, chat.shelf, chat.current, language, chat.copy], switched, **conversations)
    chat.others_wrote.click(others_wrote, [chat.shelf, chat.current, language, chat.copy], [chat.conversations, chat.new, chat.shelf],
                            queue=False, show_progress="hidden", **conversations)
    # while an answer comes no question in the chat can be edited (the edit would be answered beside it) and no
    # other conversation opened (the answer would land in it). (Set by the answer, not at the trigger: a step on
    # the same trigger ran only when a waiting answer started.)
    chat.answering.change(lambda on: [chat_editing(not on), *[gr.update(interactive=not on)] * 2], chat.answering,
                          [chat.chatbot, chat.conversations, chat.new], queue=False, show_progress="hidden", api_visibility="private")

    def restore(kept: dict | list | None, language: str) -> list:
        """At page load: the conversations the browser kept, the one open shown as it was (the chat, the
        sources, the suggestions, the file to download, the list of conversations)."""
        shelf, current = restored(kept)
        conversation = shelf.get(current, [])
        # nothing stored: what this tab read at its start may be older than what another stored since
        return [conversation, *shown_conversation(conversation, language),
                *keep(conversation, shelf, current, language, None, store=False)]

    def keep_change(conversation: list[Turn], shelf: Shelf, current: str, language: str, copy: str) -> tuple:
        """`keep` after an answer or a language switch; nothing before the page's conversations are
        restored (a page opening in English switches language first)."""
        return keep(conversation, shelf, current, language, read_copy(copy)) if current else (gr.skip(),) * len(kept_outputs)

    kept = {"fn": keep_change,
            "inputs": [turns, chat.shelf, chat.current, language, chat.copy], "outputs": kept_outputs, "queue": False,
            "show_progress": "hidden", **conversations}
    for event in answers:  # (turns.change cannot: gradio hashes a State to see it change, and an Answer has no hash)
        event.then(**kept)
    language.change(**kept)
    page.load(restore, [saved, language], [turns, chat.chatbot, chat.sources_panel, *suggestions, *kept_outputs],
              js="(kept, language) => [kept, window.ragLanguage()]", api_visibility="private")  # the language the page loads in
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
    wrong = parse_filters(since, until, outlets, language)[1]
    error = gr.update(visible=False) if wrong is None else gr.update(value=wrong)
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
