"""Pure functions over tabular data and scikit-learn models: strict CSV reading, profiling, AutoML, scale-out.

`ml` imports nothing else of govledger (an import-linter contract holds it to that); callers record
what it returns. Entry points: `ml.tabular` (read_csv, infer_schema, profile), `ml.automl`
(validate, train), `ml.compute` (compute_backend), `ml.batch` (validate_batch, run_batch: scoring, SHAP
explanations, drift, fairness and performance of a batch).
"""
