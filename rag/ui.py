"""The Gradio web page: a thin shell over `rag.Retriever` (search for now; the chat comes next)."""

from __future__ import annotations

import html

import gradio as gr

from rag.retriever import Hit, Retriever


def render_hits(hits: list[Hit]) -> str:
    """Results as HTML; every piece of article data is escaped, never rendered as live markup."""
    if not hits:
        return "<p>Tidak ada bagian arsip yang cocok. / No matching passages.</p>"
    cards = []
    for rank, hit in enumerate(hits, 1):
        article = hit.article
        meta = " · ".join(html.escape(str(x)) for x in (article.source, article.published) if x)
        link = ""
        if article.url and article.url.startswith(("http://", "https://")):
            link = f' · <a href="{html.escape(article.url, quote=True)}" target="_blank" rel="noopener">link</a>'
        cards.append(
            f"<div class='hit'><h4>{rank}. {html.escape(article.title)}</h4>"
            f"<small>{meta}{link} · score {hit.score:.4f}</small><p>{html.escape(hit.text)}</p></div>"
        )
    return "\n".join(cards)


def build_ui(retriever: Retriever) -> gr.Blocks:
    def search(query: str, k: float) -> str:
        if not query.strip():
            return ""
        return render_hits(retriever.search(query, int(k)))

    with gr.Blocks(title="Arsip Berita") as page:
        gr.Markdown("# Arsip Berita\nCari di arsip berita / Search the news archive")
        with gr.Row():
            query = gr.Textbox(label="Pertanyaan / Query", placeholder="Apa yang dikatakan Lavrov tentang perluasan NATO?", scale=4)
            k = gr.Slider(1, 20, value=5, step=1, label="Jumlah hasil / Results")
        results = gr.HTML()
        query.submit(search, [query, k], results, api_name="search")
        gr.Button("Cari / Search").click(search, [query, k], results)
    return page
