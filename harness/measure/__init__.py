"""Stage 5, measurements: plain numbers from a training run (:mod:`.metrics`) and its timing (:mod:`.timing`)."""
