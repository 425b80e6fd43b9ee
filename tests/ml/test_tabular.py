"""The strict CSV reader, schema inference and the profile."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ml.errors import InvalidDataset
from ml.tabular import MAX_COLUMNS, infer_schema, profile, read_csv


def write(tmp_path, content: bytes | str):
    path = tmp_path / "data.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def refusal(tmp_path, content, max_bytes=10_000_000) -> str:
    with pytest.raises(InvalidDataset) as e:
        read_csv(write(tmp_path, content), max_bytes=max_bytes)
    assert e.value.code == "invalid_dataset"
    return e.value.message


def test_a_well_formed_file_is_read_with_text_as_python_strings(tmp_path):
    df = read_csv(write(tmp_path, "a,b,c\n1,x,true\n2,,false\n"), max_bytes=1000)
    assert list(df.columns) == ["a", "b", "c"] and len(df) == 2
    assert df["b"].dtype == object and df["b"][0] == "x" and pd.isna(df["b"][1])


def test_a_file_larger_than_the_limit_is_refused_before_reading(tmp_path):
    assert "at most 10 are allowed" in refusal(tmp_path, "a,b\n1,2\n3,4\n", max_bytes=10)


def test_an_empty_file_is_refused(tmp_path):
    assert "empty" in refusal(tmp_path, "")


def test_a_header_without_rows_is_refused(tmp_path):
    assert "no rows" in refusal(tmp_path, "a,b\n")


def test_bytes_that_are_not_utf8_are_refused_naming_line_and_offset(tmp_path):
    message = refusal(tmp_path, b"a,b\n1,2\n3,\xff\xfe\n")
    assert "line 3" in message and "offset 10" in message


def test_a_ragged_row_is_refused_naming_its_line(tmp_path):
    message = refusal(tmp_path, "a,b,c\n1,2,3\n4,5\n")
    assert "line 3" in message and "2 fields" in message


def test_a_row_with_too_many_fields_is_refused_too(tmp_path):
    assert "line 2" in refusal(tmp_path, "a,b\n1,2,3\n")


def test_a_duplicate_column_name_is_refused(tmp_path):
    assert "'a' appears twice" in refusal(tmp_path, "a,b,a\n1,2,3\n")


def test_an_empty_column_name_is_refused(tmp_path):
    assert "column 2" in refusal(tmp_path, "a,,c\n1,2,3\n")


def test_a_column_name_that_is_not_an_identifier_is_refused_saying_why(tmp_path):
    message = refusal(tmp_path, "a,first name\n1,2\n")
    assert "'first name'" in message and "identifier" in message


def test_more_than_the_allowed_columns_are_refused(tmp_path):
    header = ",".join(f"c{i}" for i in range(MAX_COLUMNS + 1))
    assert f"at most {MAX_COLUMNS}" in refusal(tmp_path, header + "\n" + ",".join("1" * (MAX_COLUMNS + 1)) + "\n")


def test_a_nul_character_is_refused_naming_its_line(tmp_path):
    assert "line 2" in refusal(tmp_path, "a,b\n1,\x002\n")


def test_an_unterminated_quote_is_refused(tmp_path):
    assert "not valid CSV" in refusal(tmp_path, 'a,b\n1,"x\n')


def test_schema_inference_types_each_kind_of_column():
    n = 100
    df = pd.DataFrame({
        "count": np.arange(n), "gappy_count": [float(i) if i % 7 else np.nan for i in range(n)],
        "ratio": np.linspace(0, 1, n), "flag": [i % 2 == 0 for i in range(n)],
        "flag_text": ["true" if i % 3 else "False" for i in range(n)],
        "colour": [["red", "green", "blue"][i % 3] for i in range(n)], "name": [f"person {i}" for i in range(n)],
        "when": [f"2024-01-{1 + i % 28:02d}" for i in range(n)], "nothing": [np.nan] * n,
    })
    assert infer_schema(df) == {"count": "integer", "gappy_count": "integer", "ratio": "float", "flag": "boolean",
                                "flag_text": "boolean", "colour": "category", "name": "string", "when": "datetime",
                                "nothing": "string"}


def test_the_profile_describes_numbers_and_text_in_json_safe_values(credit):
    df = credit.copy()
    df.loc[:9, "income"] = np.nan
    result = profile(df, infer_schema(df))
    json.dumps(result, allow_nan=False)
    income = result["income"]
    assert income["type"] == "float" and income["missing_share"] == pytest.approx(10 / len(df), rel=1e-5)
    assert set(income["quantiles"]) == {"0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"}
    assert income["min"] <= income["quantiles"]["0.5"] <= income["max"] and income["std"] > 0
    assert type(income["distinct"]) is int
    region = result["region"]
    assert region["distinct"] == 4 and sum(count for _, count in region["top"]) == len(df)


def test_an_all_empty_column_profiles_as_a_string_entirely_missing():
    df = pd.DataFrame({"x": [1, 2, 3], "empty": [np.nan] * 3})
    schema = infer_schema(df)
    assert schema["empty"] == "string" and profile(df, schema)["empty"]["missing_share"] == 1.0


def test_a_profile_of_a_thousand_wide_text_columns_stays_within_its_byte_bound():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({f"c{i}": ["x" * 300 + str(v) for v in rng.integers(0, 30, 40)] for i in range(1000)})
    result = profile(df, {c: "category" for c in df.columns}, max_bytes=200_000)
    assert len(json.dumps(result)) <= 200_000 and len(result) == 1000
