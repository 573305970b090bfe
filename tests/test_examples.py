"""The LangChain examples in examples/ run against a real index."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import PROJECT
from openai_stub import Stub

from examples.agent_tool import build_agent
from examples.lcel_chain import PROMPT, build_chain, format_passages
from rag.indexer import build_index
from rag.langchain import ArticleRetriever
from rag.llm import make_chat_model
from rag.retriever import Retriever


@pytest.fixture()
def retriever(settings, embedder):
    shutil.copy(PROJECT / "corpus" / "000_b0a4adb478896665.md", settings.corpus_dir)
    build_index(settings, embedder)
    return Retriever(settings.index_dir, embedder, settings)


def test_lcel_chain_with_langchain_fake_chat_model(retriever):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    archive = ArticleRetriever(retriever=retriever, k=2)
    chain = build_chain(archive, FakeListChatModel(responses=["Lavrov memperingatkan NATO [1]."]))
    assert chain.invoke("Apa kata Lavrov tentang NATO?") == "Lavrov memperingatkan NATO [1]."
    prompt = PROMPT.invoke({"passages": format_passages(archive.invoke("Lavrov NATO")), "question": "q"})
    assert "[1] Rusia Lontarkan" in prompt.to_string() and "Al Jazeera" in prompt.to_string()


def test_agent_calls_the_archive_tool(retriever):
    call = {"id": "call_1", "type": "function",
            "function": {"name": "search_news_archive", "arguments": json.dumps({"query": "juru bicara Kremlin"})}}
    script = [{"content": None, "tool_calls": [call]}, {"content": "Dmitry Peskov [1]."}]
    with Stub(script=script) as stub:
        agent = build_agent(retriever, make_chat_model("stub-model", stub.base_url))
        result = agent.invoke({"messages": [{"role": "user", "content": "Siapa juru bicara Kremlin?"}]})
    assert result["messages"][-1].content == "Dmitry Peskov [1]."
    tool_result = stub.requests[1]["messages"][-1]
    assert tool_result["role"] == "tool" and "Peskov" in tool_result["content"]
