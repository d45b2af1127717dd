"""Words that generated identifiers, paths, keys and messages are built from, and the split test.

Both splits use all the words (so every token of an evaluation answer occurs in training); what is
split is each built name, path and value, by a stable hash of its text.
"""
import zlib

_WORDS = """
account action active adapter address admin agent alarm album alert alias align allow amount anchor
angle answer apple archive area argument array arrow asset atlas audio audit author avatar backup
badge balance banner barrel basket batch beacon bell billing binder blade blank block blob bloom
board body bolt bonus border bottle bound branch brand breeze brick bridge broker brush bubble
bucket budget buffer builder bundle burst button cabin cable cache calendar camera campaign canvas
capital caption card cargo carrier cart cascade catalog cell center chain channel chapter charge
chart check cipher circle city claim class clause client clock cloud cluster coach code coin
collector column comment commit company compass config console contact container content context
contract control cookie copper core counter country coupon course cover crane credit crest cursor
curve customer cycle dash data date deal debit decoder delivery delta demand deposit depth design
device dialog digest digit dimension direct discount disk dispatch display district dock document
domain draft drawer driver drop duration eagle echo edge editor effect element email emitter
employee encoder endpoint engine entry envelope epoch error estimate event exchange expense export
fabric factor falcon feature feed fence fiber field figure filter finance flag flame fleet flight
float flow folder font forest form format forum frame freight friend front fuel funnel gallery
game garden gate gateway gauge gear genre ghost glacier globe goal grade graph grid group guard
guest guide habit hammer handle harbor hash header health heap helper hint history holder honey
hook horizon host hotel hour index input insight invoice island issue item job journal journey
kernel key kiosk ladder lake lambda lane language laser layer layout lead ledger lemon lens lesson
letter level library license light limit line link list loader locale lock log lookup loop lotus
machine magnet mail manager manifest map margin market marker master match matrix meadow medal
media member memo memory menu merchant message meter method metric mirror mission mode model
module moment monitor motor mountain mouse native needle nest network node note notice number
object ocean offer office offset option orbit order origin outlet output owner packet page
palette panel paper parcel parent parser partner party patch path pattern payload payment peak
pencil period permit phase phone photo pilot pipe pixel planet plan plate player plugin pocket
point policy pool port portal post potato power preset price printer priority probe process
product profile program project prompt proof property protocol provider proxy pulse pump quota
queue quiz radar radio rail range rate reader realm receipt record region registry relay release
remote render report request resource result review reward ribbon ridge ring river road robot
role room root route router row rule runner sample sandbox satellite scale schema scope score
screen script search season secret section sector segment seller sensor sequence server service
session setting shadow shape share shelf shield shift signal silver sketch skill slot socket
source space span spark speaker spring sprite square stack stage stamp station status step
storage store story stream street string studio style subject summary supply surface survey
switch symbol sync system table tablet tag target task team template tenant terminal theme thread
ticket tide tile timer title token topic torch tower trace track trade traffic trail train
transfer travel tree trend trigger trophy tunnel turbine unit update upload user utility valley
value vault vector vendor venue version vessel video view village visit voice volume voucher
wagon wallet warden warning watch water wave weather widget window wing wizard worker workflow
yard zone acorn amber arcade badger basil bison cactus canyon cedar cobalt comet coral cosmos
crystal dune ember fern fjord garnet granite harvest hazel heron indigo iris ivory jasper juniper
kelp lagoon lantern lilac lynx maple marble meteor mint nebula nickel oak onyx opal otter pebble
pepper pine plum prairie quartz raven reef saffron sage sequoia slate sparrow spruce summit
tango thistle thunder topaz tulip tundra velvet walnut willow zephyr
""".split()

_VERBS = """
accept adjust aggregate allocate apply approve archive assign attach audit authorize balance build
calculate cancel capture check clean clear close collect compile compute confirm connect convert
copy count create decode delete deliver deploy detect dispatch emit enable encode ensure estimate
evaluate expand export extract fetch filter find flush format forward generate group handle hydrate
import index inspect install invalidate load lock log lookup map mark measure merge migrate mount
normalize notify open pack parse patch persist poll prepare prune publish purge query queue read
rebuild receive reconcile record refresh register reject release reload remove render repair
replace report request reset resize resolve restore resume retry rotate route sample save scan
schedule score seal select send serialize settle shrink sign simulate snapshot sort split stage
start stop store stream submit summarize suspend sync tag throttle tokenize track transfer
transform translate trim unlock unpack update upgrade upload validate verify watch wrap write
""".split()


def split_of_text(text):
    """'eval' for about one text in five, 'train' otherwise; stable across runs and machines."""
    return "eval" if zlib.crc32(text.encode("utf-8")) % 5 == 0 else "train"


def all_words():
    return sorted(set(_WORDS))


def all_verbs():
    return sorted(set(_VERBS))
