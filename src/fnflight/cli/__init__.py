"""The ``fnflight`` command line: ``fnflight train | eval | testset | enhance | bench``."""
