"""The production example's ZODB client (bin/client).

    bin/client write TEXT   commits TEXT as a note, and as the contents of a blob
    bin/client read         prints the note and the blob's contents
"""

import shutil
import sys
import tempfile

import transaction
import ZEO
from ZODB.blob import Blob


def main(address):
    usage = "usage: bin/client write TEXT | bin/client read"
    args = sys.argv[1:]
    if not args or args[0] not in ("write", "read") or len(args) != (2 if args[0] == "write" else 1):
        sys.exit(usage)
    host, port = address.rsplit(":", 1)
    # A blob cache of the client's own: the server's blob directory is not shared.
    cache = tempfile.mkdtemp(prefix="democlient-")
    db = ZEO.DB((host, int(port)), storage="main", blob_dir=cache, wait_timeout=30)
    try:
        connection = db.open()
        root = connection.root()
        if args[0] == "write":
            root["note"] = args[1]
            blob = Blob()
            with blob.open("w") as f:
                f.write(args[1].encode("utf-8"))
            root["attachment"] = blob
            transaction.commit()
            print("committed %r" % args[1])
        else:
            if "note" not in root:
                sys.exit("nothing written yet: bin/client write TEXT")
            with root["attachment"].open("r") as f:
                attached = f.read().decode("utf-8")
            print("note: %s" % root["note"])
            print("blob: %s" % attached)
        connection.close()
    finally:
        db.close()
        shutil.rmtree(cache, ignore_errors=True)
