import { auth } from './api.js';
import { startsChallenge } from './forms.js';

// The new password is asked for on the code entry, with the code: the API takes both in one request.
startsChallenge('reset', (form) => {
  const fields = form.elements as HTMLFormControlsCollection & Record<'identifier', HTMLInputElement>;
  return auth.start({ identifier: fields.identifier.value.trim(), purpose: 'password_reset' });
});
