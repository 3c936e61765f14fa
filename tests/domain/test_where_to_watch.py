"""domain/where_to_watch.py: the default country rule and country validation."""

from __future__ import annotations

import pytest

from domain.where_to_watch import FALLBACK_COUNTRY, default_country, valid_country


@pytest.mark.parametrize(
    ("language_code", "country"),
    [
        ("pt-br", "BR"),  # the region of the language tag wins
        ("en-gb", "GB"),
        ("en", "US"),  # CLDR's likely territory of the bare language
        ("de", "DE"),
        ("ru", "RU"),
        ("es", "ES"),
        ("pt", "BR"),  # CLDR: Portuguese is most likely Brazil
        ("uk", "UA"),
        (None, FALLBACK_COUNTRY),
        ("", FALLBACK_COUNTRY),
        ("xx", FALLBACK_COUNTRY),  # no such language
    ],
)
def test_default_country(language_code: str | None, country: str) -> None:
    assert default_country(language_code) == country


def test_valid_country_normalises_and_rejects() -> None:
    assert valid_country(" de ") == "DE"
    assert valid_country("zz") is None  # CLDR's "unknown region"
    assert valid_country("DEU") is None
    assert valid_country("1a") is None
