"""The recommender wing's own KFP components: interaction ingest, the ranking evaluator (whole-catalogue
top-K), batch recommendations and the monitor. Each is a folder, as the generic components are."""
