#!/usr/bin/env bash
# Fetch what the Spark and Flink runs need, once, into $CORPUSFLOW_ENGINES (~/.cache/corpusflow/engines):
#   * pyspark (the Spark distribution for the local standalone cluster), pip-installed into its own
#     folder so it never touches the project's environment;
#   * Beam's Spark and Flink job-server jars, shaded by Maven from Maven Central
#     (engines/spark-job-server/pom.xml, engines/flink-job-server/pom.xml).
# Idempotent: what is already there is kept. Prints the paths at the end.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
mkdir -p "$ENGINES_HOME"
if [ ! -x "$SPARK_HOME/bin/spark-class" ]; then
  echo "engines: installing pyspark==$SPARK_VERSION into $ENGINES_HOME/spark-$SPARK_VERSION" >&2
  rm -rf "$ENGINES_HOME/spark-$SPARK_VERSION.tmp"
  python -m pip install -q --disable-pip-version-check --no-deps \
    --target "$ENGINES_HOME/spark-$SPARK_VERSION.tmp" "pyspark==$SPARK_VERSION"
  mv "$ENGINES_HOME/spark-$SPARK_VERSION.tmp" "$ENGINES_HOME/spark-$SPARK_VERSION"
  chmod +x "$SPARK_HOME"/bin/* "$SPARK_HOME"/sbin/*
fi
build() {  # build POM_DIR JAR: shade the job server and copy it to JAR (again when the pom changed)
  local dir="$1" jar="$2" stamp
  stamp="$(sha256sum "$dir/pom.xml" | cut -d' ' -f1)"
  [ -s "$jar" ] && [ "$(cat "$jar.pom-sha256" 2>/dev/null)" = "$stamp" ] && return 0
  echo "engines: building $(basename "$jar") with Maven (downloads ~300 MB once)" >&2
  mvn -q -B -f "$dir/pom.xml" package -DskipTests
  cp "$dir/target/$(basename "$jar")" "$jar.tmp"
  mv "$jar.tmp" "$jar"
  echo "$stamp" > "$jar.pom-sha256"
  rm -rf "$dir/target"
}
build "$here/spark-job-server" "$SPARK_JOB_SERVER_JAR"
build "$here/flink-job-server" "$FLINK_JOB_SERVER_JAR"
echo "SPARK_HOME=$SPARK_HOME"
echo "SPARK_JOB_SERVER_JAR=$SPARK_JOB_SERVER_JAR"
echo "FLINK_JOB_SERVER_JAR=$FLINK_JOB_SERVER_JAR"
