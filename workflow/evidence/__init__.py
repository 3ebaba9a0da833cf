"""Evidence: photos checked before decoding, their EXIF facts and flags, thumbnails, and where files are kept."""
