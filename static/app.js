// Sync 365 portal: progressive enhancement only. Every page works without this file.
"use strict";
