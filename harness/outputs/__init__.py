"""Stage 7, what a run leaves behind: its folders, plots, artifacts, report and the tables of many runs."""
