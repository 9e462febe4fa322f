"""news-rag chat window: `streamlit run ui/app.py` (what `make run` starts).

Imports only the public API of `rag`. One engine per server (`st.cache_resource`), shared by
every browser session; the chat history of each session lives in `st.session_state`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

if __package__ in (None, ""):  # `streamlit run ui/app.py` runs this file as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamlit as st  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from rag import (  # noqa: E402
    Answer,
    Incoming,
    IndexMismatchError,
    IndexStatus,
    IngestReport,
    LLMError,
    RagEngine,
    RagError,
    Settings,
    UploadFolder,
)
from ui import render  # noqa: E402

log = logging.getLogger("news-rag.ui")
T = TypeVar("T")

EXAMPLES = (
    "What did May say about Russia in July 2016?",
    "Why did Pompeo travel to Sochi?",
    "How long did Pompeo's meeting with Putin and Lavrov last?",
    "What do Pompeo and Lavrov disagree about?",
)
LLM_HINT = (
    "Answers quote the articles directly, offline. To answer with an LLM, set OPENAI_API_KEY "
    "(and OPENAI_BASE_URL for Ollama, vLLM or llama.cpp) in .env and restart."
)


@dataclass
class Turn:
    """One message of the chat: the user's question, or the engine's answer or error."""

    role: str  # "user" | "assistant"
    content: str
    answer: Answer | None = None
    error: str | None = None


@dataclass(frozen=True)
class Options:
    k: int
    after: dt.date | None
    before: dt.date | None


# -- the engine, once per server ----------------------------------------------------------
def _fingerprint(settings: Settings) -> str:
    """Tells apart settings that need different engines (secrets included, never shown)."""
    secret = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    raw = settings.model_dump_json() + secret
    return hashlib.sha256(raw.encode()).hexdigest()


@st.cache_resource(show_spinner="Loading the embedding model…", max_entries=4)
def _embedder(key: str, _settings: Settings) -> Any:
    # The model is loaded once per embedding configuration, even when other settings change.
    return RagEngine(_settings.model_copy(update={"llm": "extractive"})).embedder


@st.cache_resource(show_spinner=False, max_entries=4)
def _engine(fingerprint: str, _settings: Settings) -> RagEngine:
    embed_key = _settings.embed_name + ("" if _settings.embed == "local" else fingerprint)
    return RagEngine(_settings, embedder=_embedder(embed_key, _settings))


def engine_or_error() -> RagEngine | None:
    """The shared engine, or None after showing why it cannot be built."""
    try:
        settings = Settings()
        return _engine(_fingerprint(settings), settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        st.error(f"A setting is invalid: {where}: {first['msg']}. Fix it in .env and reload.")
    except RagError as exc:
        st.error(f"{_sentence(str(exc))} Fix the setting in .env and reload.")
    return None


def _sentence(message: str) -> str:
    message = message.strip()
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def guarded(action: Callable[[], T]) -> tuple[T | None, str | None]:
    """Run an engine call; a failure becomes one line for `st.error`, never a traceback."""
    try:
        return action(), None
    except RagError as exc:
        return None, _sentence(str(exc)) + _hint(exc)
    except Exception as exc:  # noqa: BLE001 - the page must stay usable
        log.exception("unexpected error")
        return None, f"Something went wrong ({type(exc).__name__}); the server log has details."


def _hint(exc: RagError) -> str:
    if isinstance(exc, LLMError):
        return " Check the LLM server and key in .env, or unset OPENAI_API_KEY to answer offline."
    if isinstance(exc, IndexMismatchError):
        return " Until then, questions cannot be answered from this index."
    return ""


# -- sidebar ------------------------------------------------------------------------------
def sidebar(engine: RagEngine) -> tuple[Options, IndexStatus | None]:
    """Mode, uploads, corpus and settings; returns the settings and the index's status."""
    bar = st.sidebar
    bar.title("news-rag")
    if engine.mode == "extractive":
        bar.markdown("**Mode:** offline extractive")
        bar.caption(LLM_HINT)
    else:
        bar.markdown(f"**Mode:** LLM `{engine.settings.llm_model}`")
        bar.caption(f"Server: {engine.settings.openai_base_url or 'api.openai.com'}")
    bar.button("New chat", on_click=_new_chat, icon=":material/add_comment:", width="stretch")

    ingest_uploads(engine)
    status, error = guarded(engine.status)
    if status is None:
        bar.error(error)
        return Options(engine.settings.top_k, None, None), None

    bar.subheader("Corpus")
    bar.markdown(f"{status.documents} articles · {status.chunks} chunks")
    if status.published_from:
        bar.caption(
            f"Published {render.pretty_date(status.published_from)} – "
            f"{render.pretty_date(status.published_to)}"
        )
    with bar.expander(f"Browse articles ({status.documents})"):
        documents, _ = guarded(engine.documents)
        if documents:
            st.html(render.document_list(documents))
        else:
            st.caption("No articles yet.")

    bar.subheader("Settings")
    k = bar.slider("Passages per answer (top-k)", 1, 20, engine.settings.top_k)
    after, before = _date_filter(status)
    return Options(k, after, before), status


def _date_filter(status: IndexStatus) -> tuple[dt.date | None, dt.date | None]:
    if not (status.published_from and status.published_to):
        return None, None
    first = dt.date.fromisoformat(status.published_from)
    last = dt.date.fromisoformat(status.published_to)
    if not st.sidebar.toggle("Only articles published between…", key="filter_dates"):
        return None, None
    picked = st.sidebar.date_input(
        "Publication dates", value=(first, last), min_value=first, max_value=last
    )
    dates = list(picked) if isinstance(picked, tuple | list) else [picked]
    return (dates[0] if dates else None), (dates[1] if len(dates) > 1 else None)


def _new_chat() -> None:
    st.session_state.history = []


def ingest_uploads(engine: RagEngine) -> None:
    """The upload box: save the files under the data directory and ingest them."""
    limit = engine.settings.max_upload_bytes  # RAG_MAX_UPLOAD_BYTES, as for the HTTP API
    megabytes = f"{limit / 2**20:.3g} MB"
    with st.sidebar.form("upload", clear_on_submit=True):
        files = st.file_uploader(
            "Add articles (.txt, .md, .html)",
            type=[suffix.lstrip(".") for suffix in engine.settings.upload_types],
            accept_multiple_files=True,
            max_upload_size=max(1, math.ceil(limit / 2**20)),
        )
        submitted = st.form_submit_button("Ingest", icon=":material/upload:")
    if not (submitted and files):
        return
    uploads = UploadFolder(engine.settings.data_dir / "uploads")  # as the HTTP API keeps them
    known, _ = guarded(lambda: {d.doc_id for d in engine.documents()})
    accepted: list[Incoming] = []
    skipped: list[str] = []
    for upload in files:
        incoming = Incoming.named(upload.name, upload)  # a safe name, also what is shown
        if upload.size > limit:
            skipped.append(f"{incoming.name}: larger than {megabytes}")
        elif incoming.doc_id in (known or set()) and not uploads.holds(incoming.doc_id):
            skipped.append(
                f"{incoming.name}: an indexed article already has the id {incoming.doc_id}"
            )
        else:
            accepted.append(incoming)
    report: IngestReport | None = None
    if accepted:
        with uploads.lock:
            staged = uploads.stage(accepted)
            with st.sidebar.status(f"Ingesting {len(accepted)} file(s)…", expanded=True) as box:
                bar = st.progress(0.0, text="Reading and chunking…")

                def progress(done: float, total: int) -> None:
                    bar.progress(
                        min(done / total, 1.0) if total else 1.0,
                        text=f"Ingested {int(done)}/{total} articles",
                    )

                report, error = guarded(lambda: engine.ingest(staged.paths, progress=progress))
                if report is None:
                    staged.undo()  # the uploads folder as it was
                    box.update(label="Ingest failed", state="error")
                    st.error(error)
                else:
                    # files the index refused are not kept; an earlier version comes back
                    staged.keep(Path(item.path) for item in report.skipped)
                    box.update(label=_ingest_summary(report), state="complete", expanded=False)
    for item in report.skipped if report else []:
        skipped.append(f"{Path(item.path).name}: {item.reason}")
    if skipped:
        st.sidebar.warning("Skipped:\n" + "\n".join(f"- {line}" for line in skipped))


def _ingest_summary(report: IngestReport) -> str:
    parts = [f"{report.added} added", f"{report.updated} updated"]
    if report.unchanged:
        parts.append(f"{report.unchanged} unchanged")
    return f"Ingested: {', '.join(parts)} ({report.embedded} chunks embedded)"


# -- chat ---------------------------------------------------------------------------------
def show_answer(answer: Answer, turn: int) -> None:
    st.html(render.answer_html(answer, turn))
    if answer.abstained:
        related = answer.closest()
        if related:
            st.caption("Related coverage — the closest passages, which do not answer it:")
            for passage in related:
                st.html(render.passage_html(passage, full=False))
        return
    st.markdown("**Sources**")
    for card in render.source_cards(answer):
        st.html(card.html(turn))
    others = render.uncited(answer)
    if others:
        with st.expander(f"Other retrieved passages ({len(others)})", expanded=False):
            for passage in others:
                st.html(render.passage_html(passage))


def show_turn(turn: Turn, index: int) -> None:
    with st.chat_message(turn.role):
        if turn.error:
            st.error(turn.error)
        elif turn.answer is not None:
            show_answer(turn.answer, index)
        else:
            st.text(turn.content)


def respond(engine: RagEngine, question: str, options: Options) -> Turn:
    """Answer the newest question (follow-ups resolved from the history), streaming if an LLM
    composes the answer."""
    history: list[Turn] = st.session_state.history
    messages = [{"role": t.role, "content": t.content} for t in history if not t.error]
    index = len(history)
    with st.chat_message("assistant"):
        if engine.mode == "extractive":
            with st.spinner("Searching the articles…"):
                answer, error = guarded(
                    lambda: engine.chat(messages, options.k, options.after, options.before)
                )
        else:
            answer, error = _streamed(engine, messages, options)
        if answer is None:
            st.error(error)
            return Turn("assistant", "", error=error)
        show_answer(answer, index)
        into_view()
        return Turn("assistant", answer.text, answer=answer)


# Bring the newest question and its answer into view, and drop the address's #fragment left
# by a citation click: without this, after a click on a citation, the page stays where the
# quote was while new answers arrive below. (An HTML frame may reach the page: it is served
# from the same origin.)
INTO_VIEW = """<script>
const page = window.parent;
if (page.location.hash) {
  page.history.replaceState(null, "", page.location.pathname + page.location.search);
}
function newest() {
  const messages = page.document.querySelectorAll('[data-testid="stChatMessage"]');
  const question = messages[messages.length - 2] || messages[messages.length - 1];
  if (question) { question.scrollIntoView({block: "start"}); }
}
// again once the page has laid out the answer's source cards
for (const wait of [0, 300, 1000]) { setTimeout(newest, wait); }
</script>"""


def into_view() -> None:
    st.iframe(INTO_VIEW, height=1)  # the smallest frame Streamlit draws


def _streamed(
    engine: RagEngine, messages: list[dict[str, str]], options: Options
) -> tuple[Answer | None, str | None]:
    """Stream the LLM's words into the page; the checked answer replaces them at the end."""
    place = st.empty()

    def run() -> Answer | None:
        question = engine.standalone_question(messages)
        stream = engine.stream(question, options.k, options.after, options.before)
        place.write_stream(stream)
        return stream.answer

    answer, error = guarded(run)
    place.empty()
    return answer, error


def empty_state(status: IndexStatus | None) -> None:
    st.markdown(
        "### Ask the news\n"
        "Answers come only from the indexed articles. Every claim carries a numbered citation "
        "to the sentence that supports it; when the articles don't say, news-rag says so."
    )
    if status is not None and not status.ready:
        st.error(
            _sentence(status.problem or "") + " Upload articles in the sidebar, or run "
            "`rag ingest`."
        )
        return
    st.caption("Try one of these:")
    for i, example in enumerate(EXAMPLES):  # one a row: each question whole
        st.button(
            example, key=f"example-{i}", on_click=_ask_later, args=(example,), width="stretch"
        )


def _ask_later(question: str) -> None:
    st.session_state.pending = question


def main() -> None:
    st.set_page_config(page_title="news-rag", page_icon=":newspaper:", layout="centered")
    st.html(render.STYLE)
    st.session_state.setdefault("history", [])
    engine = engine_or_error()
    if engine is None:
        return
    options, status = sidebar(engine)
    history: list[Turn] = st.session_state.history
    # the input is pinned to the bottom of the page wherever it is called
    typed = st.chat_input("Ask about the news…", max_chars=engine.settings.max_question_chars)
    question = typed or st.session_state.pop("pending", None)

    if not history and not question:
        empty_state(status)
    for index, turn in enumerate(history):
        show_turn(turn, index)
    if not question:
        return
    history.append(Turn("user", question))
    show_turn(history[-1], len(history) - 1)
    history.append(respond(engine, question, options))


main()
