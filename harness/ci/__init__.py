"""harness as a CI bot: follow a public-inbox archive (watch), publish results to
patchwork, KCIDB and the author (publish), and spread a test run over CI runners
(shard, merge). Built on the stages and on the `check`/`test` pipelines."""
