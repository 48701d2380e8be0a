// The failure converter used with encrypted payloads: error messages and stack traces travel as
// a payload, so the codec encrypts them too (they can quote a brief). Loaded by path — bundled
// into the workflow sandbox and require()d by clients and workers — hence plain CommonJS.
/* global require, exports */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
