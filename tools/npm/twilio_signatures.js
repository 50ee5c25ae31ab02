// Signs and checks Twilio webhook requests with Twilio's own Node library: an
// implementation independent of the shim's, for the end-to-end tests.
//
//   NODE_PATH=tools/npm/node_modules node twilio_signatures.js TOKEN FILE
//
// FILE holds a JSON array of requests, each one of
//   {"url": U, "params": {"Name": "value" or ["v1", "v2"], ...}}
//       form parameters, signed as Twilio signs them;
//   {"url": U, "body": "..."}
//       a JSON body: bodySHA256 is added to U, which alone is signed.
// With "signature": S, S is also checked with validateRequest (or
// validateRequestWithBody). Prints a JSON array with, for each request,
// {"url": the signed URL, "signature": Twilio's signature, "valid": S valid?}.
'use strict';

const fs = require('fs');
const twilio = require('twilio');

const [token, file] = process.argv.slice(2);
if (!token || !file) {
  console.error('usage: node twilio_signatures.js TOKEN FILE');
  process.exit(2);
}

const results = JSON.parse(fs.readFileSync(file, 'utf8')).map((request) => {
  if (request.body !== undefined) {
    const hash = twilio.getExpectedBodyHash(request.body);
    const url = request.url + (request.url.includes('?') ? '&' : '?') +
        'bodySHA256=' + hash;
    return {
      url,
      signature: twilio.getExpectedTwilioSignature(token, url, {}),
      valid: request.signature === undefined ?
          null :
          twilio.validateRequestWithBody(
              token, request.signature, url, request.body),
    };
  }
  return {
    url: request.url,
    signature: twilio.getExpectedTwilioSignature(
        token, request.url, request.params),
    valid: request.signature === undefined ?
        null :
        twilio.validateRequest(
            token, request.signature, request.url, request.params),
  };
});
process.stdout.write(JSON.stringify(results) + '\n');
