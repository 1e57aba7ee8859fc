"""Pure torch networks whose state_dict keys equal the official SMILE checkpoints."""
