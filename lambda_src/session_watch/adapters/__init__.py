"""Adapters to AWS: each takes its boto3 client as an argument."""
