"""Compose the archive retriever in a LangChain LCEL chain: retrieve -> prompt -> chat model -> text.

    .venv/bin/python examples/lcel_chain.py "Apa kata Lavrov tentang NATO?"

Uses the chat model named by RAG_LLM (e.g. openai:gpt-4o-mini, with RAG_LLM_BASE_URL for a local
OpenAI-compatible server); without one it runs on LangChain's fake chat model, which just echoes.
"""

from __future__ import annotations

import sys

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough

from rag.langchain import ArticleRetriever
from rag.retriever import Retriever

PROMPT = ChatPromptTemplate.from_messages([
    ("system", "Answer from these numbered news passages only and cite them as [n].\n\n{passages}"),
    ("human", "{question}"),
])


def format_passages(documents) -> str:
    return "\n\n".join(f"[{n}] {d.metadata['title']} ({d.metadata['source']}, {d.metadata['published']})\n{d.page_content}"
                       for n, d in enumerate(documents, 1))


def build_chain(retriever: ArticleRetriever, model):
    """question -> {passages, question} -> prompt -> model -> string."""
    return {"passages": retriever | format_passages, "question": RunnablePassthrough()} | PROMPT | model | StrOutputParser()


def default_model():
    from rag.config import get_settings

    settings = get_settings()
    if settings.llm:
        from rag.llm import make_chat_model

        return make_chat_model(settings.llm, settings.llm_base_url, settings.llm_api_key)
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    return FakeListChatModel(responses=["(no RAG_LLM configured: this is LangChain's fake chat model)"])


if __name__ == "__main__":
    chain = build_chain(ArticleRetriever(retriever=Retriever(), k=3), default_model())
    print(chain.invoke(sys.argv[1] if len(sys.argv) > 1 else "Apa kata Lavrov tentang perluasan NATO?"))
