"""``KEYSTILE_SECRET_KEY_FALLBACKS``: previous keys, each held to the secret key's rules."""

from __future__ import annotations

import pytest

from app.config import DEV_SECRET_KEY, ConfigError, load_settings

NEW = "k3Jd9-aL2qPz8xWv_Rt6YbNc4MhUe7FgSs1Ao0Ii5Kk"
OLD = "Zq8-Hn2Vb7Lw4Tx9Rc1Ys6Pk3Md0Gf5Ju_Ae8Wo2Ei"
OLDER = "p0O9i8U7y6T5r4E3w2Q1-a_SdFgHjKlZxCvBnMqWeRt"


def test_previous_keys_are_listed_in_order() -> None:
    s = load_settings(
        {"KEYSTILE_SECRET_KEY": NEW, "KEYSTILE_SECRET_KEY_FALLBACKS": f" {OLD} , {OLDER},"}
    )
    assert s.secret_key_fallbacks == (OLD, OLDER)
    assert load_settings({"KEYSTILE_SECRET_KEY": NEW}).secret_key_fallbacks == ()


@pytest.mark.parametrize(
    ("fallbacks", "message"),
    [
        pytest.param(f"{OLD},short", "key 2 is too weak", id="short"),
        pytest.param("a" * 64, "key 1 is too weak", id="low-entropy"),
        pytest.param(DEV_SECRET_KEY, "key 1 is too weak", id="development-key"),
        pytest.param(NEW, "key 1 is the current KEYSTILE_SECRET_KEY", id="the-current-key"),
    ],
)
def test_bad_previous_keys_stop_start_up(fallbacks: str, message: str) -> None:
    with pytest.raises(ConfigError, match="KEYSTILE_SECRET_KEY_FALLBACKS") as info:
        load_settings({"KEYSTILE_SECRET_KEY": NEW, "KEYSTILE_SECRET_KEY_FALLBACKS": fallbacks})
    assert message in str(info.value)
    assert OLD not in str(info.value) and NEW not in str(info.value)  # never echo a key
