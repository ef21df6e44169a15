"""Disk images as evidence: opened read-only through dissect, logs found and extracted with provenance.

``detect`` says whether a file is an image; ``reader`` opens one (E01, VMDK, VHD/VHDX, qcow2,
raw, and the collections dissect's loaders know) and lists and reads the log files on its
volumes, deleted NTFS entries included; ``context`` reads the host name and time zone the
image states; ``digest`` hashes the image and compares the acquisition's own hash. Nothing is
mounted and nothing is written to the image.
"""
