"""Where services run: the `Target` protocol (`base`), a scripted fake, and one subpackage per target."""
