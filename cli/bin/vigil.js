#!/usr/bin/env node
'use strict';

// The AWS SDK warns on every start that its releases after January 2027 will need Node 22. Vigil pins
// an SDK version that supports Node 20, so the notice says nothing actionable to a Vigil user.
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  if (String(warning && warning.message ? warning.message : warning).includes('NodeVersionSupportWarning')) return;
  if (String(warning).includes('AWS SDK for JavaScript (v3)')) return;
  return emitWarning.call(process, warning, ...rest);
};

require('../dist/main.js')
  .main(process.argv)
  .catch((error) => {
    process.stderr.write(`vigil: ${error && error.message ? error.message : String(error)}\n`);
    process.exit(1);
  });
