#!/usr/bin/env bash
# Generates the SAML fixtures in testdata/xmlsec: responses in the shapes
# real IdPs send, signed by xmlsec1 (libxmlsec1, an implementation that
# shares no code with goxmldsig), and idp.pem, the certificate that signs
# them. The tests need neither xmlsec1 nor this script; run it again
# (Debian: apt-get install -y xmlsec1 openssl) to regenerate every fixture
# with a fresh throwaway key.
#
# Times are fixed (around 2030-01-01T00:00:00Z): the tests validate at a
# clock they control (fixtureNow in xmlsec_test.go).
set -euo pipefail
cd "$(dirname "$0")/xmlsec"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 36500 -subj "/CN=Gatehouse fixture IdP" \
  -keyout "$work/key.pem" -out idp.pem 2>/dev/null

SP=https://gatehouse.example/sso/saml/conn_1/metadata
ACS=https://gatehouse.example/sso/saml/conn_1/acs
NS_P=urn:oasis:names:tc:SAML:2.0:protocol
NS_A=urn:oasis:names:tc:SAML:2.0:assertion
NS_DS=http://www.w3.org/2000/09/xmldsig#
EXC=http://www.w3.org/2001/10/xml-exc-c14n#
INC=http://www.w3.org/TR/2001/REC-xml-c14n-20010315

# q PREFIX LOCAL: a qualified name ("" = no prefix).
q() { if [ -n "$1" ]; then echo "$1:$2"; else echo "$2"; fi; }
# xmlns PREFIX URI: a namespace declaration.
xmlns() { if [ -n "$1" ]; then echo "xmlns:$1=\"$2\""; else echo "xmlns=\"$2\""; fi; }

# signature DS_PREFIX ID C14N KEYINFO PREFIXLIST: a Signature template.
signature() {
  local d=$1 id=$2 c14n=$3 keyinfo=$4 plist=$5 ki="" tr
  case $keyinfo in
    cert) ki="<$(q "$d" KeyInfo)><$(q "$d" X509Data)><$(q "$d" X509Certificate)/></$(q "$d" X509Data)></$(q "$d" KeyInfo)>" ;;
    subject) ki="<$(q "$d" KeyInfo)><$(q "$d" X509Data)><$(q "$d" X509SubjectName)/><$(q "$d" X509Certificate)/></$(q "$d" X509Data)></$(q "$d" KeyInfo)>" ;;
    keyname) ki="<$(q "$d" KeyInfo)><$(q "$d" KeyName)/><$(q "$d" X509Data)><$(q "$d" X509Certificate)/></$(q "$d" X509Data)></$(q "$d" KeyInfo)>" ;;
    none) ki="" ;;
  esac
  if [ -n "$plist" ]; then
    tr="<$(q "$d" Transform) Algorithm=\"$c14n\"><ec:InclusiveNamespaces xmlns:ec=\"$EXC\" PrefixList=\"$plist\"/></$(q "$d" Transform)>"
  else
    tr="<$(q "$d" Transform) Algorithm=\"$c14n\"/>"
  fi
  echo "<$(q "$d" Signature) $(xmlns "$d" "$NS_DS")><$(q "$d" SignedInfo)><$(q "$d" CanonicalizationMethod) Algorithm=\"$c14n\"/><$(q "$d" SignatureMethod) Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/><$(q "$d" Reference) URI=\"#$id\"><$(q "$d" Transforms)><$(q "$d" Transform) Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>$tr</$(q "$d" Transforms)><$(q "$d" DigestMethod) Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><$(q "$d" DigestValue)></$(q "$d" DigestValue)></$(q "$d" Reference)></$(q "$d" SignedInfo)><$(q "$d" SignatureValue)></$(q "$d" SignatureValue)>$ki</$(q "$d" Signature)>"
}

# response NAME ISSUER P A DS SIGN C14N KEYINFO PREFIXLIST IRT ATTRS NL
#   P, A, DS: prefixes of the protocol, assertion and signature elements
#   ("" declares a default namespace); SIGN: assertion, response or both;
#   IRT: InResponseTo ("" for IdP-initiated); ATTRS: attribute style
#   (typed = xsi:type xs:string, claims = Entra/ADFS claim URIs); NL: "\n"
#   between elements or "".
response() {
  local name=$1 issuer=$2 p=$3 a=$4 d=$5 sign=$6 c14n=$7 keyinfo=$8 plist=$9 irt=${10} attrs=${11} nl=${12}
  local rid="_r${name//-/_}" aid="_a${name//-/_}" rsig="" asig="" irtattr="" scirt="" attrxml="" adecl issuerel
  [ -n "$irt" ] && irtattr=" InResponseTo=\"$irt\"" && scirt=" InResponseTo=\"$irt\""
  case $sign in assertion|both) asig=$(signature "$d" "$aid" "$c14n" "$keyinfo" "$plist") ;; esac
  case $sign in response|both) rsig=$(signature "$d" "$rid" "$c14n" "$keyinfo" "$plist") ;; esac
  if [ -n "$a" ]; then adecl="$(xmlns "$a" "$NS_A")"; else adecl="xmlns=\"$NS_A\""; fi
  # The Response's Issuer: in the assertion namespace, declared where needed.
  if [ -n "$a" ] && [ -n "$p" ]; then
    issuerel="<$(q "$a" Issuer) $(xmlns "$a" "$NS_A")>$issuer</$(q "$a" Issuer)>"
  else
    issuerel="<Issuer xmlns=\"$NS_A\">$issuer</Issuer>"
  fi
  case $attrs in
    typed)
      attrxml="<$(q "$a" AttributeStatement)>$nl<$(q "$a" Attribute) Name=\"email\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified\"><$(q "$a" AttributeValue) xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"xs:string\">alice@example.com</$(q "$a" AttributeValue)></$(q "$a" Attribute)>$nl<$(q "$a" Attribute) Name=\"firstName\"><$(q "$a" AttributeValue) xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"xs:string\">Alice &amp; Co</$(q "$a" AttributeValue)></$(q "$a" Attribute)>$nl<$(q "$a" Attribute) Name=\"groups\"><$(q "$a" AttributeValue) xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"xs:string\">admins</$(q "$a" AttributeValue)><$(q "$a" AttributeValue) xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"xs:string\">staff</$(q "$a" AttributeValue)></$(q "$a" Attribute)>$nl</$(q "$a" AttributeStatement)>" ;;
    claims)
      attrxml="<$(q "$a" AttributeStatement)>$nl<$(q "$a" Attribute) Name=\"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress\"><$(q "$a" AttributeValue)>alice@example.com</$(q "$a" AttributeValue)></$(q "$a" Attribute)>$nl<$(q "$a" Attribute) Name=\"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname\"><$(q "$a" AttributeValue)>Alice</$(q "$a" AttributeValue)></$(q "$a" Attribute)>$nl<$(q "$a" Attribute) Name=\"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups\"><$(q "$a" AttributeValue)>admins</$(q "$a" AttributeValue)><$(q "$a" AttributeValue)>staff</$(q "$a" AttributeValue)></$(q "$a" Attribute)>$nl</$(q "$a" AttributeStatement)>" ;;
  esac
  local pdecl
  if [ -n "$p" ]; then pdecl="$(xmlns "$p" "$NS_P")"; else pdecl="xmlns=\"$NS_P\""; fi
  cat > "$work/$name.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<$(q "$p" Response) $pdecl ID="$rid" Version="2.0" IssueInstant="2030-01-01T00:00:00.123Z" Destination="$ACS"$irtattr>$nl$issuerel$nl$rsig$nl<$(q "$p" Status)><$(q "$p" StatusCode) Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></$(q "$p" Status)>$nl<$(q "$a" Assertion) $adecl ID="$aid" Version="2.0" IssueInstant="2030-01-01T00:00:00Z">$nl<$(q "$a" Issuer)>$issuer</$(q "$a" Issuer)>$nl$asig$nl<$(q "$a" Subject)><$(q "$a" NameID) Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@example.com</$(q "$a" NameID)><$(q "$a" SubjectConfirmation) Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><$(q "$a" SubjectConfirmationData) NotOnOrAfter="2030-01-01T00:05:00Z" Recipient="$ACS"$scirt/></$(q "$a" SubjectConfirmation)></$(q "$a" Subject)>$nl<$(q "$a" Conditions) NotBefore="2029-12-31T23:55:00Z" NotOnOrAfter="2030-01-01T00:05:00Z"><$(q "$a" AudienceRestriction)><$(q "$a" Audience)>$SP</$(q "$a" Audience)></$(q "$a" AudienceRestriction)></$(q "$a" Conditions)>$nl<$(q "$a" AuthnStatement) AuthnInstant="2029-12-31T23:59:00Z" SessionIndex="_s1"><$(q "$a" AuthnContext)><$(q "$a" AuthnContextClassRef)>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</$(q "$a" AuthnContextClassRef)></$(q "$a" AuthnContext)></$(q "$a" AuthnStatement)>$nl$attrxml$nl</$(q "$a" Assertion)>$nl</$(q "$p" Response)>
EOF
  local ids=(--id-attr:ID "$NS_P:Response" --id-attr:ID "$NS_A:Assertion")
  local in="$work/$name.xml"
  # The assertion first: the Response's digest covers its signature.
  if [ -n "$asig" ]; then
    xmlsec1 sign "${ids[@]}" --privkey-pem:fixture "$work/key.pem,idp.pem" \
      --node-xpath "//*[local-name()='Assertion']/*[local-name()='Signature']" --output "$work/$name.a.xml" "$in"
    in="$work/$name.a.xml"
  fi
  if [ -n "$rsig" ]; then
    xmlsec1 sign "${ids[@]}" --privkey-pem:fixture "$work/key.pem,idp.pem" \
      --node-xpath "/*[local-name()='Response']/*[local-name()='Signature']" --output "$work/$name.r.xml" "$in"
    in="$work/$name.r.xml"
  fi
  xmlsec1 verify "${ids[@]}" --pubkey-cert-pem idp.pem --node-xpath "(//*[local-name()='Signature'])[1]" "$in" >/dev/null 2>&1
  cp "$in" "$name.xml"
}

NL=$'\n'
#        name                       issuer                                       P       A       DS     sign       c14n  keyinfo plist IRT    attrs  NL
response okta-assertion-signed     http://www.okta.com/exk1fixture              saml2p  saml2   ds     assertion  $EXC  cert    xs    ""     typed  ""
response okta-both-signed          http://www.okta.com/exk1fixture              saml2p  saml2   ds     both       $EXC  cert    ""    _req1  typed  ""
response entra-assertion-signed    https://sts.windows.net/fixture-tenant/      samlp   ""      ""     assertion  $EXC  cert    ""    _req1  claims ""
response entra-response-signed     https://sts.windows.net/fixture-tenant/      samlp   ""      ""     response   $EXC  cert    ""    ""     claims ""
response entra-both-signed         https://sts.windows.net/fixture-tenant/      samlp   ""      ""     both       $EXC  cert    ""    _req1  claims ""
response adfs-assertion-signed     http://adfs.fixture.example/adfs/services/trust samlp ""     ds     assertion  $EXC  cert    ""    ""     claims "$NL"
response adfs-no-keyinfo           http://adfs.fixture.example/adfs/services/trust samlp ""     ds     assertion  $EXC  none    ""    _req1  claims "$NL"
response google-assertion-signed   https://accounts.google.com/o/saml2?idpid=C0fixture saml2p saml2 ds  assertion  $EXC  subject ""    _req1  typed  "$NL"
response google-response-signed    https://accounts.google.com/o/saml2?idpid=C0fixture saml2p saml2 ds  response   $EXC  cert    ""    ""     typed  "$NL"
response keycloak-both-signed      https://keycloak.fixture.example/realms/acme samlp   saml    dsig   both       $EXC  keyname ""    _req1  typed  ""
response keycloak-no-keyinfo       https://keycloak.fixture.example/realms/acme samlp   saml    dsig   both       $EXC  none    ""    ""     typed  ""
response onelogin-response-signed  https://app.onelogin.com/saml/metadata/fixture samlp saml    ds     response   $EXC  cert    ""    ""     typed  "$NL"
response onelogin-inclusive-c14n   https://app.onelogin.com/saml/metadata/fixture samlp saml    ds     response   $INC  cert    ""    _req1  typed  "$NL"
response adfs-inclusive-c14n       http://adfs.fixture.example/adfs/services/trust samlp ""     ""     assertion  $INC  cert    ""    ""     claims ""
echo "fixtures written to $(pwd)"
