"""``smile-studio eval``: the paper's measures of SMILE_SEM edits and SMILE_SYN reconstructions (Tables 2, 3)."""
