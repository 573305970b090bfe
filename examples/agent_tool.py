"""The archive as a tool of a LangChain agent: the model decides when to search the archive.

    RAG_LLM=openai:gpt-4o-mini .venv/bin/python examples/agent_tool.py "Siapa juru bicara Kremlin?"
"""

from __future__ import annotations

import sys

from langchain.agents import create_agent
from langchain_core.tools import tool

from rag.retriever import Retriever


def archive_tool(retriever: Retriever):
    @tool
    def search_news_archive(query: str) -> str:
        """Search the news archive; returns numbered passages with title, source and date."""
        hits = retriever.search(query, 3)
        return "\n\n".join(f"[{n}] {h.article.title} ({h.article.source}, {h.article.published})\n{h.text}"
                           for n, h in enumerate(hits, 1)) or "no passages found"

    return search_news_archive


def build_agent(retriever: Retriever, model):
    return create_agent(model, tools=[archive_tool(retriever)],
                        system_prompt="Answer questions about the news with the archive tool; cite passages as [n].")


if __name__ == "__main__":
    from rag.config import get_settings
    from rag.llm import make_chat_model

    settings = get_settings()
    if not settings.llm:  # an agent needs a model that can call tools; LangChain's fake one cannot
        sys.exit("error: set RAG_LLM to a chat model that can call tools (e.g. RAG_LLM=openai:gpt-4o-mini, "
                 "with RAG_LLM_BASE_URL for a local OpenAI-compatible server)")
    agent = build_agent(Retriever(), make_chat_model(settings.llm, settings.llm_base_url, settings.llm_api_key))
    question = sys.argv[1] if len(sys.argv) > 1 else "Siapa juru bicara Kremlin?"
    result = agent.invoke({"messages": [{"role": "user", "content": question}]})
    print(result["messages"][-1].content)
