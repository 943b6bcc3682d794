"""A read refused because the farm's customer managed KMS key may not be used names what to do."""

import boto3
import pytest
from botocore.stub import Stubber

from session_watch.adapters.deadline_reader import DeadlineReader
from session_watch.domain.requests import SessionActionRef
from session_watch.errors import DeadlineAccessDenied

REF = SessionActionRef("farm-" + "0" * 32, "queue-" + "1" * 32, "job-" + "2" * 32, "sessionaction-" + "3" * 32 + "-1")


@pytest.mark.parametrize("message, hinted", [
    ("User is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:us-west-2:111122223333:key/1", True),
    ("User is not authorized to perform: deadline:GetSessionAction", False),
])
def test_an_access_denial_naming_kms_points_to_the_context_key(message, hinted):
    client = boto3.client("deadline", region_name="us-west-2")
    with Stubber(client) as stubber:
        stubber.add_client_error("get_session_action", "AccessDeniedException", message, 403)
        with pytest.raises(DeadlineAccessDenied) as denied:
            DeadlineReader(client).get_session_action(REF)
    assert ("sessionWatch:deadlineKmsKeyArns" in str(denied.value)) is hinted
    assert message in str(denied.value)
