"""train (spark_python_task, in the environment ``train``): fit a conversion model.

Runs in an isolated environment holding only what it imports (numpy, pyarrow,
scikit-learn, pinned in the job spec) plus ``podium.task_values``: none of the job's own
packages, so it imports nothing from ``seed``.

Reads the session features, checks they hold the rows ``persist_features`` published,
fits a logistic regression on 75% of the sessions and scores ROC AUC on the rest. Saves
``model.pkl`` (a pickled scikit-learn Pipeline taking the columns of ``metrics.json``'s
``features``) and ``metrics.json`` to the run's artifacts folder; sets ``auc`` and
``model_path``; fails below ``--min-auc``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from podium import task_values

LABEL = "converted"
NOT_FEATURES = {"session_id", "user_id", "start", LABEL}


def _is_number(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)


def feature_matrix(table: pa.Table) -> tuple[np.ndarray, list[str], list[str]]:
    """The feature columns as one object array; the names of the categorical (text) and
    numeric columns, in that order."""
    columns = [f for f in table.schema if f.name not in NOT_FEATURES]
    numeric = [f.name for f in columns if _is_number(f.type)]
    categorical = [f.name for f in columns if f.name not in numeric]
    names = categorical + numeric
    x = np.column_stack([table.column(name).to_numpy(zero_copy_only=False) for name in names])
    return x.astype(object), categorical, numeric


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", required=True, help="the features Parquet file")
    parser.add_argument("--expect-rows", type=int, help="rows persist_features published")
    parser.add_argument("--min-auc", type=float, default=0.6, help="fail below this test AUC")
    parser.add_argument("--test-size", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    table = pq.read_table(args.features)
    if args.expect_rows is not None and table.num_rows != args.expect_rows:
        raise SystemExit(
            f"train: {args.features} has {table.num_rows} rows, expected {args.expect_rows}"
        )
    x, categorical, numeric = feature_matrix(table)
    y = table.column(LABEL).to_numpy(zero_copy_only=False).astype(int)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=args.test_size, random_state=args.seed, stratify=y
    )
    print(f"train: {len(x_train)} train / {len(x_test)} test sessions, {y.mean():.1%} positive")

    n_cat = len(categorical)
    model = make_pipeline(
        ColumnTransformer(
            [
                ("categorical", OneHotEncoder(handle_unknown="ignore"), list(range(n_cat))),
                ("numeric", StandardScaler(), list(range(n_cat, n_cat + len(numeric)))),
            ]
        ),
        LogisticRegression(max_iter=1000),
    )
    model.fit(x_train, y_train)
    auc = float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))
    print(f"train: test ROC AUC {auc:.4f}", flush=True)

    folder = Path(os.environ.get("PODIUM_ARTIFACTS_DIR") or ".")
    model_path = folder / "model.pkl"
    with open(model_path, "wb") as out:
        pickle.dump(model, out)
    metrics = {
        "auc": round(auc, 6),
        "train_rows": len(x_train),
        "test_rows": len(x_test),
        "positive_rate": round(float(y.mean()), 6),
        "features": categorical + numeric,
    }
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    task_values.set("auc", round(auc, 6))
    task_values.set("model_path", str(model_path.resolve()))
    if auc < args.min_auc:
        raise SystemExit(f"train: AUC {auc:.4f} is below --min-auc {args.min_auc}")
    print(f"train: saved {model_path}")


if __name__ == "__main__":
    main()
