"""Which language a text is in (Indonesian or English), and the words that carry no meaning.

The archive is Indonesian first: replies are framed in the question's language and BM25 must
skip function words; words that point at the archive itself ("menurut artikel ini") are not
searched or read either (`without_archive_words`). A stopword vote is enough to tell
Indonesian from English in a question or an article; anything else is reported as unknown
(`None`) rather than guessed, unless a question is clearly in a third language
(`question_language`: py3langid), which is then asked across languages.
"""

from __future__ import annotations

import functools
import re

from bm25s.stopwords import STOPWORDS_EN_PLUS

# Function words of Indonesian news (pronouns, prepositions, conjunctions, particles, auxiliaries).
INDONESIAN_STOPWORDS: frozenset[str] = frozenset("""
ada adalah adanya agar akan akhirnya aku anda antara apa apakah atas atau bagaimana bagi bahkan
bahwa banyak baru begitu belum beberapa berada berbagai bersama bisa boleh bukan dalam dan dapat
dari daripada demikian dengan di dia dialah diri dirinya ia ialah ini inilah itu itulah jadi
jika juga kalau kami kamu karena ke kepada kembali ketika kini kita lagi lain lalu lebih maka
masih mau melalui mana mereka merupakan misalnya mungkin namun nya oleh pada padahal para pun
saat saja sampai sangat saya se sebab sebagai sebagainya sebelum sebuah secara sedang sedangkan
sehingga sejak sekarang selain selalu seluruh sementara semua seorang seperti serta setelah
siapa sini situ suatu sudah supaya tak tanpa tapi telah tentang tersebut tetapi tidak untuk
wah yaitu yakni yang kapan berapa mengapa kenapa dimana manakah siapakah berapakah
""".split())

# Question words that tell Indonesian but are not stopwords for BM25 (the index is built with the
# list above); a word ending in the question particle "-kah" counts when what precedes it does
# ("kapankah", "dimanakah", "berapakah").
QUESTION_WORDS: frozenset[str] = frozenset({"kemana", "darimana"})

ENGLISH_STOPWORDS: frozenset[str] = frozenset(STOPWORDS_EN_PLUS)
_ENGLISH_ONLY = ENGLISH_STOPWORDS - INDONESIAN_STOPWORDS  # in capitals: "AS", "MA", "WHO"
_STOPWORDS = INDONESIAN_STOPWORDS | ENGLISH_STOPWORDS
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased alphabetic words."""
    return _WORD.findall(text.lower())


def case_folded(word: str) -> str:
    """`word` lower-cased, except an acronym whose lower case is an English stopword: "AS"
    (Amerika Serikat), "MA" (Mahkamah Agung) and "WHO" are names in Indonesian news, while "as",
    "ma" and "who" are dropped as stopwords. A headline in capitals keeps its English stopwords
    ("THE") as words too; they match only a question written in capitals.

    Example::

        [case_folded(w) for w in "Presiden AS, as usual".replace(",", "").split()]
        # ['presiden', 'AS', 'as', 'usual']
    """
    return word if word.isupper() and word.lower() in _ENGLISH_ONLY else word.lower()


def content_words(text: str) -> list[str]:
    """Alphabetic words, `case_folded`, without stopwords or one-letter words: what a question
    and a sentence are compared by.

    Example::

        content_words("Siapa presiden AS saat ini?")   # ['presiden', 'AS']
    """
    folded = (case_folded(word) for word in _WORD.findall(text))
    return [word for word in folded if len(word) > 1 and word not in _STOPWORDS]


def detect_language(text: str) -> str | None:
    """'id' or 'en' by which stopword list covers more of its words; None when neither is clear.
    Capitalised words after the first are left out: titles and names carry no language ("Siapa
    yang menyanyikan lagu 'My Heart Will Go On'?" is Indonesian).

    Example::

        detect_language("Siapa juru bicara Kremlin?"), detect_language("Who is the Kremlin's spokesman?")
        # ('id', 'en')
    """
    tokens = [word.lower() for n, word in enumerate(_WORD.findall(text[:5000])) if n == 0 or not word[0].isupper()]
    indonesian = sum(_tells_indonesian(token) for token in tokens)
    english = sum(token in ENGLISH_STOPWORDS for token in tokens)
    if indonesian == english:
        return None
    return "id" if indonesian > english else "en"


SURE_OF_ANOTHER = 0.6  # py3langid's probability for a third language; at 0.6 one of 392 keyword queries cut from
# news-qa titles that the stopword vote leaves open ("reconnaissance orbiter") is taken for another language
_ARCHIPELAGO = {"id", "ms", "jv", "su"}  # what py3langid calls Indonesian keywords ("gempa Cianjur 2022": 'jv')
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


def question_language(text: str) -> str | None:
    """`detect_language`'s 'id' or 'en'; else the language a question is clearly in, by
    py3langid (its model ships in the package; loaded at the first such question, 0.6 s): a
    French, German or Chinese question is no Indonesian one. Names and keywords stay None.

    Example::

        question_language("Siapa juru bicara Kremlin?"), question_language("Quel est le porte-parole du Kremlin?")
        # ('id', 'fr')
        question_language("banjir rob Semarang")   # None
    """
    if found := detect_language(text):
        return found
    code, probability = _identifier().classify(text)
    unlatin = bool(_WORD.search(text)) and not _LATIN.search(text)  # Chinese, Cyrillic, Arabic, Thai...: never the archive's
    return code if unlatin or (probability >= SURE_OF_ANOTHER and code not in _ARCHIPELAGO) else None


@functools.cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)  # the model in the package


def _tells_indonesian(word: str) -> bool:
    if word.endswith("kah") and len(word) > 3:
        word = word[:-3]
    return word in INDONESIAN_STOPWORDS or word in QUESTION_WORDS


_SOURCE = r"(?:artikel|berita|arsip|teks|tulisan|naskah|article|news|archive|text|story|report)"
_THIS = r"(?:\s+(?:ini|itu|tersebut|this|these)(?=\W|$)|(?=\s*[,.?!;:]|\s*$))"  # "dalam berita acara" is no pointer
_WHERE_SAID = (rf"(?:menurut|berdasarkan|di\s*dalam|dalam|di|pada)\s+{_SOURCE}"
               rf"|(?:according\s+to|in)\s+the\s+{_SOURCE}")
_SAID_THERE = (r"yang\s+(?:di)?(?:sebut(?:kan)?|tulis(?:kan)?|bahas|muat|kutip|cerita(?:kan)?)\s+"
               r"|(?:that|who|which)\s+(?:is|was|are|were)\s+(?:mentioned|named|cited|quoted|described|reported)\s+")
_ABOUT_THE_ARCHIVE = [re.compile(rf",?\s*(?:{_SAID_THERE})?(?:{_WHERE_SAID}){_THIS}", re.IGNORECASE),
                      re.compile(rf",?\s*(?:{_WHERE_SAID}){_THIS}", re.IGNORECASE)]


def without_archive_words(question: str) -> str:
    """`question` without the words that point at the archive itself ("yang disebut dalam artikel",
    "menurut berita ini", "in the article"): every question here is about the articles, and
    those words only lead the search to stories that say "artikel" and make the reader doubt a
    span it otherwise marks ("Siapa presiden AS yang disebut dalam artikel?": margin −6.1 on
    the Biden passage, "Siapa presiden AS?" +0.05). When dropping the clause would leave less
    than two words ("Siapa yang dikutip dalam berita itu?"), only where it points is dropped;
    a question that is nothing but such words is kept.

    Example::

        without_archive_words("Siapa presiden AS yang disebut dalam artikel?")   # "Siapa presiden AS?"
    """
    for pattern in _ABOUT_THE_ARCHIVE:
        kept, found = pattern.subn("", question)
        if not found:
            continue
        kept = kept.strip(" ,")
        if question[:1].isupper():
            kept = kept[:1].upper() + kept[1:]
        if len(words(kept)) >= 2:
            return kept
    return question
