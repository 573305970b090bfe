"""The index tab of the web page: the index's counts, the token that unlocks writes, upload,
update (and the automatic updates' last result), the article list with its search and pages,
delete, and the edit of a picked article's title, outlet, date and URL, each write done by
`rag.articles.Archive` (the same code the HTTP API calls).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from rag.answer import Assistant
from rag.articles import Archive, ArticleNotFound, WriteRefused
from rag.corpus import SUFFIXES, Article
from rag.corpus_files import EDITABLE_FIELDS
from rag.indexer import IndexUpdater, UpdateJob
from rag.problems import ArticleError
from rag.ui_render import literal
from rag.ui_text import LABELS, counted, format_date, format_moment, number


LISTED = 500  # articles a page of the index tab's list holds (its caption says which; ‹ and › turn the pages)
ARTICLE_COLUMNS = (50, 20, 15, 15)  # the article table's widths in percent: title, outlet, date, id


def index_stats(assistant: Assistant, language: str) -> str:
    """One line on the live index: articles, passages, model, generation, when it was built."""
    manifest = assistant.retriever.refresh().manifest
    return LABELS[language]["stats"].format(articles=counted(manifest.articles, "article", language, bold=True),
                                            chunks=counted(manifest.chunks, "chunk", language, bold=True), model=manifest.model_id,
                                            generation=manifest.generation, built=format_moment(manifest.built_at, language))


@dataclass
class IndexTab:
    """The index tab's components."""

    stats: gr.Markdown
    access: gr.Markdown
    token: gr.Textbox
    files: gr.UploadButton
    replace: gr.Checkbox  # an upload replaces a file of the same name (a corrected article)
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
    delete_id: gr.Textbox  # the article picked: to delete, or to edit
    delete: gr.Button
    edit: gr.Accordion
    edit_fields: list[gr.Textbox]  # title, outlet, date, URL (`EDITABLE_FIELDS`)
    edit_save: gr.Button
    edit_report: gr.Markdown
    edit_shown: gr.State  # the values the edit box was filled with (what Save compares against)
    confirm_row: gr.Row
    confirm_text: gr.Markdown
    confirm: gr.Button
    cancel: gr.Button
    delete_report: gr.Markdown

    @property
    def listing(self) -> list:
        """The article list's components, in `article_list`'s order."""
        return [self.articles, self.pager, self.previous, self.next, self.offset]


def index_tab(assistant: Assistant, archive: Archive, labels: dict[str, str]) -> IndexTab:
    """Counts, the token that unlocks writes, upload, update, and the article list with delete."""
    stats = gr.Markdown(index_stats(assistant, "id"), elem_id="stats")
    access = gr.Markdown(labels["writes_enabled"] if archive.writable else labels["writes_disabled"], elem_id="access")
    token = gr.Textbox(label=labels["token"], type="password", elem_id="token", interactive=archive.writable)
    # A button, not Gradio's drop zone: its texts ("Drop File Here") would stay English in the Indonesian page.
    files = gr.UploadButton(labels["upload"], file_count="multiple", file_types=sorted(SUFFIXES),
                            type="filepath", elem_id="upload", interactive=archive.writable)
    replace = gr.Checkbox(label=labels["replace"], value=False, elem_id="replace", interactive=archive.writable)
    upload_report = gr.Markdown(elem_id="upload-report", latex_delimiters=[])
    update = gr.Button(labels["update"], variant="primary", elem_id="update", interactive=archive.writable)
    update_report = gr.Markdown(elem_id="update-report", latex_delimiters=[])
    auto_report = gr.Markdown(auto_status(archive.updater, "id"), elem_id="auto-update", latex_delimiters=[])
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
        confirm_text = gr.Markdown(latex_delimiters=[])
        confirm = gr.Button(labels["confirm"], variant="stop", elem_id="confirm", scale=0)
        cancel = gr.Button(labels["cancel"], elem_id="cancel", scale=0)
    delete_report = gr.Markdown(elem_id="delete-report", latex_delimiters=[])
    with gr.Accordion(labels["edit_fields"], open=False, elem_id="edit-article") as edit:
        with gr.Row():
            edit_fields = [gr.Textbox(label=labels[f"edit_{field}"], elem_id=f"edit-{field}", interactive=archive.writable)
                           for field in EDITABLE_FIELDS]
        edit_save = gr.Button(labels["edit_save"], elem_id="edit-save", interactive=archive.writable)
        edit_report = gr.Markdown(elem_id="edit-report", latex_delimiters=[])
    return IndexTab(stats, access, token, files, replace, upload_report, update, update_report, auto_report, article_query, articles,
                    pager, previous, next_, offset, delete_id, delete, edit, edit_fields, edit_save, edit_report, gr.State([]),
                    confirm_row, confirm_text, confirm, cancel, delete_report)


def field_values(article: Article) -> list[str]:
    """An article's `EDITABLE_FIELDS` fields as the edit box shows them."""
    return [article.title, article.source or "", article.published_iso or "", article.url or ""]


def headers(language: str) -> list[str]:
    """The article table's column names in the page's language."""
    labels = LABELS[language]
    return [labels["column_title"], labels["column_source"], labels["column_published"], labels["column_id"]]


def article_table(archive: Archive, query: str, language: str, offset: int = 0,
                  limit: int = LISTED) -> tuple[list[list[str]], str, int, int]:
    """A page of the articles matching `query`: up to `limit` table rows from `offset` (the last
    page when the list has shrunk below it), the table's caption, the offset shown and how many
    match. The caption says how many there are ("90 artikel") or which are shown ("Menampilkan
    501–1.000 dari 4.140 artikel; cari untuk mempersempit"). Title, outlet and date (as the
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
        shown = f"{number(offset + 1, language)}–{number(offset + len(rows), language)}"
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


def index_counts(assistant: Assistant, language: str, outlet_filters: int) -> tuple:
    """The stats, then the live index's outlets as the choices of each of the page's
    `outlet_filters` outlet dropdowns (the chat's filters, the search tab's)."""
    stats = index_stats(assistant, language)  # opens the newest generation
    return stats, *[gr.update(choices=assistant.retriever.store.sources())] * outlet_filters


def index_views(assistant: Assistant, archive: Archive, language: str, query: str, outlet_filters: int, offset: int = 0) -> tuple:
    """`index_counts` and the article list (those matching `query`, the page from `offset`): at
    page load and after an automatic update."""
    return *index_counts(assistant, language, outlet_filters), *article_list(archive, query, language, offset)


def wire_index(assistant: Assistant, archive: Archive, index: IndexTab, outlets: list[gr.Dropdown], language: gr.State) -> None:
    """Upload, update, delete and edit (each needs the token: /upload_articles, /update_index,
    /delete_article, /edit_article), the article search and the article list's pages; an update,
    by hand or automatic, gives the `outlets` dropdowns the index's outlets."""
    def upload(files: list[str] | None, token: str, replace: bool, language: str) -> tuple[str, None]:
        labels = LABELS[language]
        try:
            archive.authorize(token)  # before reading the files
        except WriteRefused as error:
            return refusal(error, language), None
        lines = []
        for path in files or []:
            name = Path(path).name
            try:
                saved, articles = archive.save_file(name, Path(path).read_bytes(), token, replace)
                lines.append(f"**{labels['saved_status']}** {literal(saved.name)}: {labels['saved'].format(articles=counted(len(articles), 'article', language))}")
            except ArticleError as error:
                lines.append(refusal(error, language, name))
        return "\n".join(f"- {line}" for line in lines), None  # the next upload starts afresh

    def update(token: str, language: str, progress: gr.Progress = gr.Progress()) -> tuple:
        try:
            job = archive.start_update(token)
        except WriteRefused as error:
            return refusal(error, language), index_stats(assistant, language), *[gr.skip()] * len(outlets)
        while job.state == "running":
            progress((job.done, job.total) if job.total else 0.0, desc=LABELS[language]["updating"])
            time.sleep(0.3)
        return update_report(job, language), *index_counts(assistant, language, len(outlets))

    def ask_to_delete(article_id: str, language: str) -> tuple[dict, str, str]:
        article_id = (article_id or "").strip()
        if not article_id:
            return gr.update(visible=False), "", LABELS[language]["delete_pick"]
        try:
            title = archive.removable(article_id).title
        except (ArticleNotFound, ArticleError) as error:  # a record whose line no longer reads: the line and why
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

    def forget_deleted(article_id: str) -> tuple:
        """After "Yes, delete": an article gone from the corpus leaves the id box and the edit box
        empty (they kept its fields, "Save changes" on, as if the delete had failed)."""
        try:
            archive.current((article_id or "").strip())
        except ArticleNotFound:
            return "", ""
        except ArticleError:  # still there, its line unreadable: the report says why
            pass
        return gr.skip(), gr.skip()

    def pick(event: gr.SelectData) -> str:
        return str(event.row_value[-1])  # the id column

    def fields_of(article_id: str) -> list:
        """The edit box's fields filled with the picked article's as its file holds them now (an edit
        not yet indexed included), and kept to tell what is changed; empty while what is typed
        names no article."""
        try:
            values = field_values(archive.current((article_id or "").strip()))
        except (ArticleNotFound, ArticleError):
            values = [""] * len(EDITABLE_FIELDS)
        return [*values, values]

    def save_edit(article_id: str, shown: list[str], title: str, source: str, published: str, url: str, token: str,
                  language: str) -> tuple[str, list[str] | dict]:
        """Only the fields changed from those shown are written (another field's value in the file stays)."""
        values = [title, source, published, url]  # in `EDITABLE_FIELDS`'s order
        labels = LABELS[language]
        article_id = (article_id or "").strip()
        changes = {field: value for field, value, was in zip(EDITABLE_FIELDS, values, shown or [""] * len(EDITABLE_FIELDS), strict=True)
                   if (value or "").strip() != was}
        if not article_id:
            return labels["delete_pick"], gr.skip()
        if not changes:
            return labels["edit_nothing"], gr.skip()
        try:
            article = archive.edit(article_id, token, **changes)
        except (WriteRefused, ArticleError, ArticleNotFound) as error:
            return refusal(error, language, article_id), gr.skip()
        return f"**{labels['edited_status']}** {literal(article.id)}: {labels['edited']}", field_values(article)

    def rows(query: str, language: str, offset: int = 0) -> tuple:
        return article_list(archive, query, language, offset)

    def turn_page(step: int):
        def turn(query: str, language: str, offset: int) -> tuple:
            return article_list(archive, query, language, max(offset + step, 0))
        return turn

    index.files.upload(upload, [index.files, index.token, index.replace, language], [index.upload_report, index.files], api_name="upload_articles")
    # /update_index takes the token alone (gradio_client callers); the list is then shown with its search
    index.update.click(update, [index.token, language], [index.update_report, index.stats, *outlets],
                       api_name="update_index", concurrency_limit=1).then(
        rows, [index.article_query, language, index.offset], index.listing, api_visibility="private")
    index.article_query.change(rows, [index.article_query, language], index.listing, api_visibility="private")  # from page 1
    for button, step in ((index.previous, -LISTED), (index.next, LISTED)):
        button.click(turn_page(step), [index.article_query, language, index.offset], index.listing, api_visibility="private")
    index.articles.select(pick, None, index.delete_id, api_visibility="private")
    index.delete_id.change(fields_of, index.delete_id, [*index.edit_fields, index.edit_shown], api_visibility="private")
    index.edit_save.click(save_edit, [index.delete_id, index.edit_shown, *index.edit_fields, index.token, language],
                          [index.edit_report, index.edit_shown], api_name="edit_article")
    index.delete.click(ask_to_delete, [index.delete_id, language], [index.confirm_row, index.confirm_text, index.delete_report],
                       api_visibility="private")
    index.confirm.click(delete, [index.delete_id, index.token, language], [index.delete_report, index.confirm_row],
                        api_name="delete_article").then(
        forget_deleted, index.delete_id, [index.delete_id, index.edit_report], api_visibility="private")
    index.cancel.click(lambda: gr.update(visible=False), None, index.confirm_row, api_visibility="private")
    # another article picked or typed: the question asked about the one before goes (its "Yes" would delete this one)
    index.delete_id.change(lambda: gr.update(visible=False), None, index.confirm_row, api_visibility="private")
    if archive.updater.automatic:  # watch mode or the fetch schedule: show their updates as they happen
        seen = gr.State("")

        def tick(language: str, seen_job: str, query: str, offset: int) -> tuple:
            job = archive.updater.last_automatic
            key = f"{job.id}:{job.state}" if job else ""
            if key == seen_job:
                return (gr.skip(),) * (3 + len(outlets) + len(index.listing))
            return (auto_status(archive.updater, language), *index_views(assistant, archive, language, query, len(outlets), offset),
                    key)

        gr.Timer(2).tick(tick, [language, seen, index.article_query, index.offset],
                         [index.auto_report, index.stats, *outlets, *index.listing, seen],
                         api_visibility="private", show_progress="hidden")
