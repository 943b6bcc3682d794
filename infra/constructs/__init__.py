"""One construct per capability; ``infra.stack.SessionWatchStack`` composes them."""
