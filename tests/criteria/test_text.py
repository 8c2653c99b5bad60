import unicodedata

import pytest

from criteria.text import fold, nfc


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hoàng Tây", "hoang tay"),
        ("Thôn Đông", "thon dong"),
        ("Đ", "d"),
        ("đường", "duong"),
        ("  Xã   Hoàng\tTây  ", "xa hoang tay"),
        (unicodedata.normalize("NFD", "Hoàng Tây"), "hoang tay"),
        ("BẢN LỀ", "ban le"),
        ("", ""),
        ("\u00d0ông", "dong"),
    ],
    ids=[
        "hoang-tay",
        "thon-dong",
        "d-stroke-upper",
        "d-stroke-lower",
        "whitespace",
        "decomposed",
        "upper-case",
        "empty",
        "eth-look-alike",
    ],
)
def test_fold_vietnamese_text_gives_plain_key(raw: str, expected: str) -> None:
    assert fold(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (unicodedata.normalize("NFD", "Hoàng Tây"), "Hoàng Tây"),
        ("  Thôn Đông \n", "Thôn Đông"),
        ("Lào Cai", "Lào Cai"),
    ],
    ids=["decomposed-equals-composed", "strips-whitespace", "already-nfc"],
)
def test_nfc_any_form_gives_composed_text(raw: str, expected: str) -> None:
    result = nfc(raw)
    assert result == expected
    assert unicodedata.is_normalized("NFC", result)


def test_fold_decomposed_and_composed_inputs_give_same_key() -> None:
    composed = "Nguyễn Thị Ánh"
    assert fold(unicodedata.normalize("NFD", composed)) == fold(composed) == "nguyen thi anh"
