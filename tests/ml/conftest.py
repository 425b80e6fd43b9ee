"""Small synthetic frames for the ml tests: the demo credit data (with a category and a date added), blobs, a regression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from govledger.demo_data import FEATURES, credit_data

CREDIT_SCHEMA = {**FEATURES, "region": "category", "applied_on": "datetime", "gender": "category", "defaulted": "boolean"}


def credit_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = credit_data(rng, n)
    df = pd.DataFrame(data.X, columns=list(FEATURES))
    for name, kind in FEATURES.items():
        if kind == "integer":
            df[name] = df[name].astype(int)
    df["region"] = rng.choice(np.array(["north", "south", "east", "west"]), n).astype(object)
    days = rng.integers(0, 700, n)
    df["applied_on"] = (pd.Timestamp("2023-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d").astype(object)
    df["gender"] = data.gender.astype(object)
    df["defaulted"] = data.y.astype(bool)
    return df


@pytest.fixture(scope="session")
def credit() -> pd.DataFrame:
    return credit_frame(600)
