"""Ray: a local cluster of containers (`cluster`), the head's Jobs API client (`jobs`), judging
the smoke job's reports (`smoke_report`), and the deploy/ manifests' image pin (`deploy`)."""
