#!/usr/bin/env bash
# build_jar (shell_task): compile WordCount.java and package it as wordcount.jar in the
# run's artifacts folder; the jar's path becomes the task value `jar`, which the
# spark_jar_task names in its libraries. Building per run keeps the source tree clean and
# runs of the job independent.
set -euo pipefail
out="$PODIUM_ARTIFACTS_DIR/jar"
rm -rf "$out/classes"
mkdir -p "$out/classes"
javac -d "$out/classes" jar/src/podium/examples/WordCount.java
jar --create --file "$out/wordcount.jar" -C "$out/classes" .
echo "built $out/wordcount.jar"
python -c 'import sys; from podium import task_values; task_values.set("jar", sys.argv[1])' \
    "$out/wordcount.jar"
