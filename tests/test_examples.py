"""The LangChain examples in examples/ run against a real index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import PROJECT
from openai_stub import Stub

from examples.agent_tool import build_agent
from examples.lcel_chain import build_chain
from rag.indexer import build_index
from rag.langchain import ArticleRetriever
from rag.llm import make_chat_model
from rag.retriever import Retriever


@pytest.fixture()
def retriever(settings, embedder):
    shutil.copy(PROJECT / "corpus" / "000_b0a4adb478896665.md", settings.corpus_dir)
    build_index(settings, embedder)
    return Retriever(settings.index_dir, embedder, settings)


def test_lcel_chain_puts_the_retrieved_passages_in_the_prompt(retriever):
    archive = ArticleRetriever(retriever=retriever, k=2)
    with Stub(reply="Lavrov memperingatkan NATO [1].") as stub:
        chain = build_chain(archive, make_chat_model("stub-model", stub.base_url))
        output = chain.invoke("Apa kata Lavrov tentang NATO?")
    assert output == stub.reply  # the parser hands the model's text through
    system, human = stub.requests[0]["messages"]
    assert human == {"role": "user", "content": "Apa kata Lavrov tentang NATO?"}
    # the retrieved passages, numbered, with title, source and date, and their text verbatim
    documents = archive.invoke("Apa kata Lavrov tentang NATO?")
    assert documents and all(d.page_content in system["content"] for d in documents)
    assert system["content"].count("[1] Rusia Lontarkan") == 1 and "(Al Jazeera, 2023-07-11)" in system["content"]


def test_agent_calls_the_archive_tool_and_reads_its_passages(retriever):
    call = {"id": "call_1", "type": "function",
            "function": {"name": "search_news_archive", "arguments": json.dumps({"query": "juru bicara Kremlin"})}}
    script = [{"content": None, "tool_calls": [call]}, {"content": "Dmitry Peskov [1]."}]
    with Stub(script=script) as stub:
        agent = build_agent(retriever, make_chat_model("stub-model", stub.base_url))
        agent.invoke({"messages": [{"role": "user", "content": "Siapa juru bicara Kremlin?"}]})
    assert len(stub.requests) == 2  # asked once, called the tool, answered from its result
    assert [t["function"]["name"] for t in stub.requests[0]["tools"]] == ["search_news_archive"]
    tool_result = stub.requests[1]["messages"][-1]
    assert tool_result["role"] == "tool" and tool_result["tool_call_id"] == "call_1"
    peskov = next(h for h in retriever.search("juru bicara Kremlin", 3) if "Peskov" in h.text)
    assert tool_result["content"].startswith("[1] Rusia Lontarkan") and peskov.text in tool_result["content"]


@pytest.mark.integration
def test_the_examples_run_as_their_docstrings_say_from_any_folder(retriever, settings, tmp_path):
    """`make install` installs the project (editable), so `python examples/x.py` finds `rag`."""
    env = {**os.environ, "RAG_INDEX_DIR": str(settings.index_dir)}
    env.pop("RAG_LLM", None)
    chain = subprocess.run([sys.executable, str(PROJECT / "examples" / "lcel_chain.py"), "Apa kata Lavrov?"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert chain.returncode == 0 and "fake chat model" in chain.stdout, chain.stderr[-2000:]
    agent = subprocess.run([sys.executable, str(PROJECT / "examples" / "agent_tool.py")],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert agent.returncode == 1 and agent.stderr.startswith("error: set RAG_LLM to a chat model that can call tools")
