"""Tools that test TrustShield itself: :mod:`~trustshield.testing.fuzz` damages real input
files and checks that every reader answers with a result or a named refusal."""
