"""qwthn backend plugin for Amazon Braket: local `braket_sv`/`braket_dm` simulators, or an `AwsDevice` by ARN."""

__version__ = "0.1.0"
