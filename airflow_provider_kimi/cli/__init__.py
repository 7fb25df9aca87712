"""The ``kimi-batch`` command line: one module a subcommand, none of them importing Airflow."""
