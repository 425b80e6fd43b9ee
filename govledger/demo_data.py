"""Synthetic credit-scoring data for the demo: applicants with protected attributes and a controllable drift."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

FEATURES = {"age": "integer", "income": "float", "debt_ratio": "float", "credit_history_months": "integer",
            "open_accounts": "integer", "late_payments": "integer"}
PROTECTED = {"gender": "category"}
TARGET = "defaulted"
SCHEMA = {**FEATURES, **PROTECTED, TARGET: "boolean"}


@dataclass(frozen=True)
class CreditData:
    X: np.ndarray  # FEATURES columns, in order
    gender: np.ndarray  # "F" / "M"
    y: np.ndarray  # 1 = defaulted

    def to_csv(self) -> bytes:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(SCHEMA)
        for row, g, label in zip(self.X, self.gender, self.y):
            w.writerow([*(int(v) if FEATURES[name] == "integer" else round(float(v), 4) for name, v in zip(FEATURES, row)),
                        g, bool(label)])
        return out.getvalue().encode()


def credit_data(rng: np.random.Generator, n: int, *, drift: float = 0.0, pay_gap: float = 0.0) -> CreditData:
    """Applicants whose default risk rises with debt and late payments and falls with income and history.

    `drift` shifts incomes down and debt up, as a recession would; `pay_gap` lowers women's incomes and raises their
    debt by that share, so a model that never sees gender still scores the groups differently (a fairness finding).
    """
    age = rng.integers(19, 80, n)
    income = rng.lognormal(10.6 - 0.3 * drift, 0.45, n)
    debt = np.clip(rng.beta(2, 5, n) * 1.4 + 0.2 * drift, 0, 1)
    gender = rng.choice(np.array(["F", "M"]), n)
    women = gender == "F"
    income = np.where(women, income * (1 - pay_gap), income)
    debt = np.where(women, np.clip(debt * (1 + pay_gap), 0, 1), debt)
    history = np.clip(rng.normal(90, 50, n), 0, (age - 18) * 12).astype(int)
    accounts = rng.integers(0, 13, n)
    late = rng.poisson(0.6 + 1.5 * debt, n)
    logit = -2.2 + 3.0 * debt + 0.45 * late - 0.006 * history - 0.6 * (np.log(income) - 10.6) + 0.02 * (accounts - 6)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = np.column_stack([age, income, debt, history, accounts, late]).astype(float)
    return CreditData(X, gender, y)
