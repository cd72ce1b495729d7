"""Region names as Google Trends writes them, in any interface language, to ISO 3166 codes.

A Trends CSV names its region in the language of the user's interface: `(Brasil)`, `(美国)`,
`(대한민국)`, `(Cały świat)`. Country names come from CLDR through babel (every locale's
localized territory names, the names Google's own UI uses), plus pycountry's ISO names and
alpha-3 codes (`USA`); region names below a country (US states, German Länder) from
pycountry's ISO 3166-2 names and their translations. "Worldwide" in any language maps to
`world`: CLDR's name for the world (territory 001) in every locale, and the labels Trends
itself writes (below, each seen in a real export or its UI).

A name that is both a country and a region of another country ("Georgia") is read as the
country; `--geo` overrides. A name that maps nowhere is refused, never guessed.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

WORLD = "world"
# Google Trends' own "Worldwide" label per interface language (not CLDR's "World").
# Seen in real exports: en, es, it, ko, pl, ru, tr, ja, zh. The others are Trends UI labels
# for the same menu entry; an unknown one is refused (with --geo as the way out), not guessed.
TRENDS_WORLD_LABELS = (
    "Worldwide", "Todo el mundo", "Tutto il mondo", "전 세계", "Cały świat", "По всему миру",
    "Dünya Genelinde", "すべての国", "全球", "全世界", "Weltweit", "Dans le monde entier", "Monde entier",
    "Todo o mundo", "Wereldwijd", "Seluruh dunia", "Di seluruh dunia", "Усі країни", "У всьому світі",
    "Весь світ", "Toàn thế giới", "Trên toàn thế giới", "Hela världen", "Celý svět", "Hele verden",
    "Maailmanlaajuinen", "Koko maailma", "Világszerte", "Toată lumea", "La nivel mondial", "Παγκοσμίως",
    "Σε όλο τον κόσμο", "כל העולם", "ברחבי העולם", "جميع أنحاء العالم", "في جميع أنحاء العالم", "ทั่วโลก",
    "दुनिया भर में", "Worldwide (all countries)",
)
# Codes CLDR lists beside countries that are not places a Trends request can name.
_NOT_GEOS = {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"}
CODE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3}(-[0-9]{3})?)?$")


class UnknownRegion(ValueError):
    """The name maps to no ISO 3166 code (or to several)."""


def normalise(name: str) -> str:
    """Comparable form: NFKC (full-width letters, no-break spaces), case folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


# The interface languages Google Trends offers, looked up first: loading every CLDR locale
# takes about a second, these a fifth of that.
TRENDS_LANGUAGES = (
    "en", "es", "pt", "fr", "de", "it", "nl", "pl", "ru", "uk", "tr", "ja", "ko", "zh", "zh_Hant", "id", "ms",
    "vi", "th", "ar", "he", "hi", "bn", "fa", "sv", "da", "nb", "fi", "cs", "sk", "hu", "ro", "bg", "el", "hr",
    "sr", "sl", "lt", "lv", "et", "ca", "fil", "ta", "te", "mr", "ur", "sw",
)


def _all_languages() -> list[str]:
    """Every CLDR language and script variant (pt, zh_Hant, sr_Latn); regional variants (en_GB,
    es_419) repeat their language's names and would triple the load time."""
    from babel.localedata import locale_identifiers

    chosen = []
    for locale_id in locale_identifiers():
        parts = locale_id.split("_")
        if len(parts) == 1 or (len(parts) == 2 and len(parts[1]) == 4):
            chosen.append(locale_id)
    return chosen


@lru_cache(maxsize=2)
def _countries(everywhere: bool = False) -> tuple[dict[str, set[str]], set[str]]:
    """normalised country name -> codes (CLDR locales, ISO names); and CLDR's names for the world.

    everywhere=False: the Trends interface languages only; True: every CLDR language.
    """
    import pycountry
    from babel import Locale

    names: dict[str, set[str]] = {}
    world: set[str] = {normalise(label) for label in TRENDS_WORLD_LABELS}
    for locale_id in (_all_languages() if everywhere else TRENDS_LANGUAGES):
        try:
            territories = Locale.parse(locale_id).territories
        except (ValueError, KeyError):  # a locale babel lists but cannot load: skip it
            continue
        for code, name in territories.items():
            if code == "001":
                world.add(normalise(name))
            elif len(code) == 2 and code.isalpha() and code not in _NOT_GEOS:
                names.setdefault(normalise(name), set()).add(code)
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            if getattr(country, attr, None):
                names.setdefault(normalise(getattr(country, attr)), set()).add(country.alpha_2)
    return names, world


@lru_cache(maxsize=1)
def _subdivisions() -> dict[str, set[str]]:
    """normalised region name -> ISO 3166-2 codes (ISO names and every translation pycountry ships)."""
    import pycountry

    pairs = [(s.code, s.name) for s in pycountry.subdivisions]
    names: dict[str, set[str]] = {}
    for code, name in pairs:
        names.setdefault(normalise(name), set()).add(code)
    for mo in sorted(Path(pycountry.LOCALES_DIR).glob("*/LC_MESSAGES/iso3166-2.mo")):
        language = mo.parent.parent.name
        translation = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=[language])
        for code, name in pairs:
            names.setdefault(normalise(translation.gettext(name)), set()).add(code)
    return names


def _is_world_phrase(key: str, world: set[str]) -> bool:
    """'Cały świat', 'Dünya Genelinde': a phrase holding a locale's word for the world (3+ letters)."""
    return any(len(w) >= 3 and re.search(rf"(?<!\w){re.escape(w)}(?!\w)", key) for w in world)


def _one(found: set[str], name: str, what: str) -> str | None:
    if len(found) > 1:
        raise UnknownRegion(f"'{name}' names several {what} ({', '.join(sorted(found))})")
    return next(iter(found)) if found else None


def code_for(name: str) -> str:
    """ISO 3166 code ('BR', 'US-CA') or 'world' for a region name in any language; UnknownRegion otherwise."""
    text = unicodedata.normalize("NFKC", name).strip()
    key = normalise(text)
    if not key:
        raise UnknownRegion("the region is empty")
    for everywhere in (False, True):
        countries, world = _countries(everywhere)
        if key in world:
            return WORLD
        code = _one(countries.get(key, set()), name, "countries")
        if code:
            return code
        if not everywhere and CODE.match(text):  # already a code, e.g. a file edited to say (US)
            try:
                return check_code(text)
            except UnknownRegion:
                pass
        if not everywhere and re.fullmatch(r"[A-Z]{3}", text):  # (USA)
            import pycountry

            country = pycountry.countries.get(alpha_3=text)
            if country is not None:
                return country.alpha_2
    code = _one(_subdivisions().get(key, set()), name, "regions")
    if code:
        return code
    if _is_world_phrase(key, world):
        return WORLD
    raise UnknownRegion(f"'{name}' is not a country or region name known to CLDR or ISO 3166")


def check_code(code: str) -> str:
    """A code given by the user (--geo): 'world', 'US', 'us', 'US-CA'; UnknownRegion when malformed."""
    text = code.strip()
    if text.lower() in (WORLD, "worldwide", ""):
        return WORLD
    text = text.upper()
    if not CODE.match(text):
        raise UnknownRegion(f"'{code}' is not an ISO 3166 code (like US, BR or US-CA) or 'world'")
    import pycountry

    if pycountry.countries.get(alpha_2=text[:2]) is None and text[:2] != "XK":
        raise UnknownRegion(f"'{code}' does not start with an ISO 3166 country code")
    return text


def english_name(code: str) -> str:
    """'Brazil' for BR, 'California' for US-CA, 'Worldwide' for world; the code itself when unknown."""
    if code == WORLD:
        return "Worldwide"
    from babel import Locale

    name = Locale("en").territories.get(code)
    if name:
        return name
    import pycountry

    region = pycountry.subdivisions.get(code=code)
    return region.name if region is not None else code
