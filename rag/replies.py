"""The assistant's own words around the quotes, in each language it replies in ('id', 'en'): the
frame before an answer, what it says when the archive has no answer, and the notices.

Why here: the answer composes them (`rag.answer`), the page draws the frame (`rag.ui_render`) and a
follow-up reads the answer back out of the last reply (`rag.conversation.previous_short_answer`).
"""

NO_ANSWER = {
    "id": "Tidak ada jawaban di arsip untuk pertanyaan ini.",
    "en": "The archive has no answer to this.",
}
NO_ANSWER_FILTERED = {  # the same, when the user's filters (a period, outlets, phrases) left articles out
    "id": "Tidak ada jawaban di arsip untuk pertanyaan ini dalam filter yang dipilih; coba tanpa filter.",
    "en": "The archive has no answer to this within the chosen filters; try without them.",
}
FRAME = {"id": "Menurut arsip:", "en": "According to the archive:"}
LLM_FAILED = {
    "id": "LLM tidak tersedia ({reason}); menampilkan jawaban ekstraktif.",
    "en": "The LLM is unavailable ({reason}); showing the extractive answer.",
}
RELATED = {"id": "Artikel yang mungkin terkait:", "en": "Possibly related articles:"}
# the filters (a period, outlets) leave no article: said so, not "no answer"
NO_MATCH = {
    "id": "Tidak ada artikel di arsip yang cocok dengan filter ini (periode, sumber).",
    "en": "No article in the archive matches these filters (period, outlets).",
}
UNKNOWN_OUTLETS = {
    "id": "Sumber yang tidak ada di arsip: {unknown}. Sumber di arsip: {known}.",
    "en": "Outlets the archive does not have: {unknown}. Its outlets: {known}.",
}
