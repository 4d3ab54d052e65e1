# Shared settings of the engine scripts (sourced, not run). Everything lives outside the repository,
# under $CORPUSFLOW_ENGINES (default ~/.cache/corpusflow/engines): nothing built or downloaded here
# is ever committed.
ENGINES_HOME="${CORPUSFLOW_ENGINES:-$HOME/.cache/corpusflow/engines}"
# Beam's Java runners: the newest release whose Spark 3 runner, Flink 1.19 runner and Java job
# service are all served by Maven Central together (see engines/README.md).
BEAM_JAVA_VERSION=2.62.0
# The standalone cluster's Spark (the pyspark package of the same version) and the Spark the job
# server is shaded with: driver and executors must agree.
SPARK_VERSION=3.5.7
FLINK_VERSION=1.19
SPARK_HOME="$ENGINES_HOME/spark-$SPARK_VERSION/pyspark"
SPARK_JOB_SERVER_JAR="$ENGINES_HOME/beam-runners-spark-3-job-server-$BEAM_JAVA_VERSION-spark-$SPARK_VERSION.jar"
FLINK_JOB_SERVER_JAR="$ENGINES_HOME/beam-runners-flink-$FLINK_VERSION-job-server-$BEAM_JAVA_VERSION.jar"
# The local standalone cluster (loopback only).
SPARK_CLUSTER_DIR="${CORPUSFLOW_SPARK_CLUSTER:-$ENGINES_HOME/spark-cluster}"
SPARK_MASTER_PORT="${CORPUSFLOW_SPARK_MASTER_PORT:-7077}"
SPARK_MASTER_WEBUI_PORT="${CORPUSFLOW_SPARK_WEBUI_PORT:-8080}"
SPARK_WORKERS="${CORPUSFLOW_SPARK_WORKERS:-2}"
SPARK_WORKER_CORES="${CORPUSFLOW_SPARK_WORKER_CORES:-1}"
SPARK_WORKER_MEMORY="${CORPUSFLOW_SPARK_WORKER_MEMORY:-2g}"
SPARK_MASTER_URL="spark://127.0.0.1:$SPARK_MASTER_PORT"
export SPARK_HOME
