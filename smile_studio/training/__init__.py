"""Training data and (to come) the SEM and SYN training loops and evaluation."""
