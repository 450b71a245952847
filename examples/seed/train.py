"""train (spark_python_task): fit a conversion model on the feature table and evaluate it.

Saves ``model.pkl`` and ``metrics.json`` to the artifacts folder; sets ``auc`` and ``model_path``.
"""

from __future__ import annotations

import argparse
import json
import pickle

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from podium import task_values
from seed.data import artifacts_dir
from seed.features import CATEGORICAL, NUMERIC


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", default="features/feature_table.parquet")
    parser.add_argument("--expect-rows", type=int, help="rows persist_features reported")
    parser.add_argument("--min-auc", type=float, default=0.6, help="fail below this test AUC")
    parser.add_argument("--test-size", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    folder = artifacts_dir()
    data = pd.read_parquet(folder / args.features)
    if args.expect_rows is not None and len(data) != args.expect_rows:
        raise SystemExit(f"train: feature table has {len(data)} rows, expected {args.expect_rows}")
    x, y = data[CATEGORICAL + NUMERIC], data["converted"].astype(int)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=args.test_size, random_state=args.seed, stratify=y
    )
    print(f"train: {len(x_train)} train / {len(x_test)} test sessions, {y.mean():.1%} positive")

    model = make_pipeline(
        ColumnTransformer(
            [
                ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                ("numeric", StandardScaler(), NUMERIC),
            ]
        ),
        LogisticRegression(max_iter=1000),
    )
    model.fit(x_train, y_train)
    auc = float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))
    print(f"train: test ROC AUC {auc:.4f}", flush=True)

    model_path = folder / "model.pkl"
    with open(model_path, "wb") as out:
        pickle.dump(model, out)
    metrics = {
        "auc": round(auc, 6),
        "train_rows": len(x_train),
        "test_rows": len(x_test),
        "positive_rate": round(float(y.mean()), 6),
        "features": CATEGORICAL + NUMERIC,
    }
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    task_values.set("auc", round(auc, 6))
    task_values.set("model_path", str(model_path))
    if auc < args.min_auc:
        raise SystemExit(f"train: AUC {auc:.4f} is below --min-auc {args.min_auc}")
    print(f"train: saved {model_path}")


if __name__ == "__main__":
    main()
